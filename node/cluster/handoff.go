package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// Graceful hand-off: an instance told to stop by Leave or Stop (not by a
// lost lease or name) may return HandOff(state) instead of an error; the
// node then sends state to the candidate next in the placement order
// before the instance's name is freed, and that node's next instance finds
// it with HandoffFrom. It is best effort: if another node wins the claim,
// or the message is lost, the successor starts without it. The state
// crosses the transport like any message: use []byte, basic values, or a
// type registered with node.RegisterType on every node.

// HandoffError carries an instance's state to its successor (HandOff).
type HandoffError struct{ State any }

func (e *HandoffError) Error() string { return "cluster: singleton handed off its state" }

// HandOff is what a stopping singleton instance returns to pass state to
// its successor.
func HandOff(state any) error { return &HandoffError{State: state} }

// singletonHandoff is the message a stopping instance's node sends to the
// successor candidate's hand-off receiver.
type singletonHandoff struct {
	Name  string `msgpack:"n"`
	Fence uint64 `msgpack:"f"` // the handing instance's fence
	State any    `msgpack:"s"`
}

// handoffState is a received hand-off, kept until the next instance here
// starts with a fence above From, for at most handoffTTL.
type handoffState struct {
	From  uint64
	State any
	At    time.Time
}

// handoffTTL is how long a received hand-off waits for an instance here:
// a hand-off is for the immediate successor, not for a later instance.
const handoffTTL = 10 * time.Second

type handoffKey struct{}

// HandoffFrom returns, inside a singleton's Run, the state the previous
// instance handed off (see HandOff) and its fence; ok is false when it
// left none for this node.
func HandoffFrom(ctx context.Context) (state any, fromFence uint64, ok bool) {
	h, ok := ctx.Value(handoffKey{}).(*handoffState)
	if !ok || h == nil {
		return nil, 0, false
	}
	return h.State, h.From, true
}

// handoffName is the local name of a singleton's hand-off receiver.
func handoffName(singleton string) string { return "roster.singleton.handoff/" + singleton }

// startHandoffReceiver spawns the process that takes hand-offs for s on
// this node (one message kept: the latest), registered under handoffName.
func (s *Singleton) startHandoffReceiver() error {
	pid, err := s.n.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			h, ok := decodeHandoff(m)
			if !ok || h.Name != s.spec.Name {
				continue
			}
			s.mu.Lock()
			if s.handoff == nil || h.Fence > s.handoff.From {
				s.handoff = &handoffState{From: h.Fence, State: h.State, At: time.Now()}
			}
			s.mu.Unlock()
			if m.IsCall() {
				_ = p.Reply(ctx, m.ReplyTo(), true) // stored: the sender may free the name
			}
		}
	}, node.WithMailbox(node.MailboxConfig{Limit: 4, Policy: node.DropOldest}))
	if err != nil {
		return err
	}
	if err := s.n.Register(handoffName(s.spec.Name), pid); err != nil {
		_ = s.n.Exit(pid, node.Shutdown)
		return fmt.Errorf("cluster: singleton %q: hand-off receiver: %w", s.spec.Name, err)
	}
	s.receiver = pid
	return nil
}

// decodeHandoff reads a hand-off from a local (Go value) or remote
// (generic msgpack form) message.
func decodeHandoff(m node.Message) (singletonHandoff, bool) {
	if h, ok := m.Body.(singletonHandoff); ok {
		return h, true
	}
	var h singletonHandoff
	if err := m.Decode(&h); err != nil || h.Name == "" {
		return singletonHandoff{}, false
	}
	return h, true
}

// takeHandoff returns the hand-off for an instance with fence, if an
// older instance left one, and forgets it.
func (s *Singleton) takeHandoff(fence uint64) *handoffState {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handoff
	s.handoff = nil
	if h == nil || h.From >= fence || time.Since(h.At) > handoffTTL {
		return nil
	}
	return h
}

// sendHandoff passes an instance's state to every other alive eligible
// candidate (whichever wins the claim has it; the others' copies expire),
// with calls that wait, within the stop budget, until each stored it:
// this runs before the instance's process exits and frees the name.
func (s *Singleton) sendHandoff(err error, fence uint64) {
	var h *HandoffError
	if !errors.As(err, &h) {
		return
	}
	msg := singletonHandoff{Name: s.spec.Name, Fence: fence, State: h.State}
	ctx, cancel := context.WithTimeout(context.Background(), s.spec.StopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sent := 0
	for _, m := range s.n.Members() {
		if m.State != membership.StateAlive || m.Meta.Node == s.n.ID() || (s.spec.Eligible != nil && !s.spec.Eligible(m)) {
			continue
		}
		sent++
		wg.Add(1)
		go func(to node.NodeID) {
			defer wg.Done()
			if _, err := s.n.Call(ctx, node.RemoteName{Node: to, Name: handoffName(s.spec.Name)}, msg); err != nil {
				s.n.Logger().Debug("singleton hand-off not delivered", "name", s.spec.Name, "to", to, "error", err)
			}
		}(m.Meta.Node)
	}
	wg.Wait()
	if sent == 0 {
		s.n.Logger().Warn("singleton hand-off: no other candidate node", "name", s.spec.Name)
	}
}
