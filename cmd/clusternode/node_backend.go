package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// nodeBackend adapts a *cluster.Node to the daemon's backend, using the
// public API of node and node/cluster only: processes, send and local registries here, the
// global table and cluster status in node_backend_global.go.
type nodeBackend struct {
	n *cluster.Node
	// mailbox bounds the mailboxes of processes Spawn starts (limits.go's
	// mailboxBounder); zero: the node's default.
	mailbox node.MailboxConfig
	// calls holds the calls each HTTP process received and has not
	// answered yet, by pid (node_backend_calls.go).
	calls sync.Map // transport.PID -> *pendingCalls
}

var _ backend = (*nodeBackend)(nil)

func (b *nodeBackend) Self() (transport.NodeID, uint64) { return b.n.ID(), b.n.Incarnation() }

// nodeMailbox is a *node.Process seen as a mailbox. Calls it receives are
// kept in calls until the client replies (node_backend_calls.go).
type nodeMailbox struct {
	p     *node.Process
	calls *pendingCalls
}

func (m nodeMailbox) Receive(ctx context.Context) (inbound, error) {
	msg, err := m.p.Receive(ctx)
	if err != nil {
		return inbound{}, err
	}
	return m.toInbound(msg), nil
}

// TryReceive relies on node's Receive taking a queued message before it
// looks at ctx.
func (m nodeMailbox) TryReceive() (inbound, bool) {
	if m.p.Len() == 0 {
		return inbound{}, false
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg, err := m.p.Receive(ctx)
	if err != nil {
		return inbound{}, false
	}
	return m.toInbound(msg), true
}

// toInbound renders msg; a call is remembered under a fresh ref.
func (m nodeMailbox) toInbound(msg node.Message) inbound {
	if msg.IsCall() && m.calls != nil {
		in := toInbound(msg)
		return inbound{From: msg.From, Call: &inboundCall{Ref: m.calls.add(msg.ReplyTo()), From: msg.From.String(), Body: in.Body}}
	}
	return toInbound(msg)
}

// toInbound renders a node message: a local body as is, a remote one from
// its generic msgpack decoding (which node keeps in Body).
func toInbound(m node.Message) inbound {
	body := m.Body
	switch v := body.(type) {
	case node.Down:
		body = map[string]any{"down": map[string]any{"pid": v.PID.String(), "reason": reasonText(v.Reason)}}
	case node.ExitSignal:
		body = map[string]any{"exit": map[string]any{"from": v.From.String(), "reason": reasonText(v.Reason)}}
	case cluster.GlobalNameLost:
		body = map[string]any{"name_lost": map[string]any{"name": v.Name, "fence": v.Fence, "reason": string(v.Reason)}}
	case cluster.GlobalNameSuspect:
		body = map[string]any{"name_suspect": map[string]any{"name": v.Name, "fence": v.Fence, "since": v.Since.String()}}
	case cluster.GlobalNameConfirmed:
		body = map[string]any{"name_confirmed": map[string]any{"name": v.Name, "fence": v.Fence}}
	}
	return inbound{From: m.From, Body: renderBody(body)}
}

func reasonText(err error) string {
	if err == nil {
		return "normal"
	}
	return node.ReasonToWire(err).Code + optional(node.ReasonToWire(err).Message)
}

func optional(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func (b *nodeBackend) Spawn(fn func(ctx context.Context, mb mailbox) error) (transport.PID, error) {
	pid, err := b.n.Spawn(func(ctx context.Context, p *node.Process) error {
		pc := &pendingCalls{p: p}
		b.calls.Store(p.PID(), pc)
		defer b.calls.Delete(p.PID())
		return fn(ctx, nodeMailbox{p: p, calls: pc})
	}, node.WithMailbox(b.mailbox))
	return pid, mapErr(err)
}

func (b *nodeBackend) Alive(pid transport.PID) bool { return b.n.Alive(pid) }

func (b *nodeBackend) Send(ctx context.Context, to transport.PID, body json.RawMessage) error {
	return mapErr(b.n.Send(ctx, to, body))
}

func (b *nodeBackend) RegisterLocal(key string, pid transport.PID) error {
	return mapErr(b.n.Register(key, pid))
}

func (b *nodeBackend) LookupLocal(key string) (transport.PID, error) {
	pid, ok := b.n.Whereis(key)
	if !ok {
		return transport.PID{}, fmt.Errorf("%w: local name %q", errNotFound, key)
	}
	return pid, nil
}

func (b *nodeBackend) UnregisterLocal(key string, pid transport.PID) error {
	return mapErr(b.n.Unregister(key, pid))
}

func (b *nodeBackend) JoinGroup(key string, pid transport.PID) error {
	return mapErr(b.n.Groups().Register(key, pid, nil))
}

func (b *nodeBackend) GroupMembers(key string) []transport.PID {
	entries := b.n.Groups().Lookup(key)
	out := make([]transport.PID, len(entries))
	for i, e := range entries {
		out[i] = e.PID
	}
	return out
}

func (b *nodeBackend) LeaveGroup(key string, pid transport.PID) error {
	return mapErr(b.n.Groups().Unregister(key, pid))
}

func (b *nodeBackend) SendGroup(ctx context.Context, key string, body json.RawMessage) (int, error) {
	var sent int
	err := b.n.Groups().Dispatch(key, func(entries []local.Entry[transport.PID]) {
		for _, e := range entries {
			// A member that exited meanwhile is skipped, not an error.
			if b.n.Send(ctx, e.PID, body) == nil {
				sent++
			}
		}
	})
	if err != nil {
		return sent, mapErr(err)
	}
	return sent, nil
}

func (b *nodeBackend) Stats() stats {
	s := b.n.Stats()
	st := stats{
		Processes:       s.Live,
		LocalNames:      b.n.Names().Count(),
		MessagesIn:      s.MsgsIn,
		MessagesOut:     s.MsgsOut,
		MessagesDropped: s.Dropped + b.n.TransportStats().Dropped,
	}
	st.GlobalNames = b.n.GlobalTable().Count()
	return st
}

// mapErr wraps node, local and global errors in the daemon's sentinels,
// keeping the original text and chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var lar *local.AlreadyRegisteredError[transport.PID]
	var gar *global.AlreadyRegisteredError
	switch {
	case errors.As(err, &lar):
		return &nameTakenError{Name: lar.Key, Owner: registration{Name: lar.Key, PID: lar.Owner, Node: lar.Owner.Node}}
	case errors.As(err, &gar):
		return &nameTakenError{Name: gar.Name, Owner: registration{Name: gar.Name, PID: gar.Owner, Node: gar.Owner.Node, Fence: gar.Fence}}
	}
	if errors.Is(err, global.ErrMetaTooLarge) {
		return badReq("meta_too_large", "%v", err)
	}
	for _, m := range errMap {
		for _, e := range m.from {
			if errors.Is(err, e) {
				return fmt.Errorf("%w: %w", m.to, err)
			}
		}
	}
	return err
}

var errMap = []struct {
	to   error
	from []error
}{
	{errNoProc, []error{node.ErrNoProc, node.ErrExited, node.ErrNotLocal, local.ErrNoProc, global.ErrInvalidOwner, global.ErrOwnerGone}},
	{errNotFound, []error{node.ErrNotFound}}, // local.ErrNotFound and global.ErrNotFound are this same error
	{errNotOwner, []error{local.ErrNotOwner, global.ErrNotOwner}},
	{errInvalidName, []error{local.ErrKeyEmpty, local.ErrKeyTooLong, global.ErrNameEmpty, global.ErrNameTooLong, global.ErrNameInvalid}},
	{errCompacted, []error{global.ErrCompacted}},
	{errOutcomeUnknown, []error{global.ErrOutcomeUnknown}},
	{errMailboxFull, []error{node.ErrMailboxFull}},
	{errUnavailable, []error{
		global.ErrNoQuorum, global.ErrNoLeader, global.ErrNotLeader, global.ErrShutdown,
		node.ErrShutdown, node.ErrNoGlobal, node.ErrNoRoute,
	}},
}
