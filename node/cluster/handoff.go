package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/roster-dev/roster/node"
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
// starts with a fence above From.
type handoffState struct {
	From  uint64
	State any
}

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
				s.handoff = &handoffState{From: h.Fence, State: h.State}
			}
			s.mu.Unlock()
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
	if h == nil || h.From >= fence {
		return nil
	}
	return h
}

// sendHandoff passes an instance's state to the next candidate in the
// placement order (not this node), before the instance's name is freed.
func (s *Singleton) sendHandoff(ctx context.Context, err error, fence uint64) {
	var h *HandoffError
	if !errors.As(err, &h) {
		return
	}
	next, ok := s.n.successorCandidate(s.spec)
	if !ok {
		s.n.Logger().Warn("singleton hand-off: no other candidate node", "name", s.spec.Name)
		return
	}
	msg := singletonHandoff{Name: s.spec.Name, Fence: fence, State: h.State}
	if err := s.n.Send(ctx, node.RemoteName{Node: next, Name: handoffName(s.spec.Name)}, msg); err != nil {
		s.n.Logger().Warn("singleton hand-off not sent", "name", s.spec.Name, "to", next, "error", err)
	}
}
