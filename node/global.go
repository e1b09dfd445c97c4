package node

import (
	"context"
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// Global is a cluster-wide name, as a Dest. Sends resolve it through the
// node's GlobalResolver and carry the registration's fence, so the receiving
// node drops the message if the name has since been registered anew.
type Global string

// GlobalFenced is a cluster-wide name with the fence of the registration
// the sender means (as returned by the global Register): the message is
// delivered only to that registration's owner, and dropped (ErrStaleFence
// locally) if the name is now held under a newer registration.
type GlobalFenced struct {
	Name  string
	Fence uint64
}

// GlobalResolver is the runtime's one seam to cluster-wide names: the
// clustered node (package node/cluster) wires in its *global.Table, which
// implements it as it is. The node calls Resolve on the sending goroutine
// for Send(Global), Send(GlobalFenced) and Monitor of a global name, and on
// the transport's reader goroutine to check the fences of inbound messages,
// so Resolve must answer from the local replica without blocking.
type GlobalResolver interface {
	// Resolve returns the current owner of name and the fence (Raft index)
	// of its registration, or ok false if the name is not registered.
	Resolve(name string) (owner PID, fence uint64, ok bool)
}

// LeaderResolver is an optional ability of a GlobalResolver (found by type
// assertion; *global.Table has it): resolving a name with the leader. The
// node calls it on a local miss for a send, a call or a monitor, before it
// reports the name not found, so that a name registered on another node
// is found even before this replica applied it (read your writes). It may
// block up to ctx's deadline; ok is false when the leader does not hold
// the name either, or cannot be asked.
type LeaderResolver interface {
	ResolveWithLeader(ctx context.Context, name string) (owner PID, fence uint64, ok bool)
}

type globalBox struct{ g GlobalResolver }

// SetGlobal wires the cluster-wide name table in (nil unwires it). Safe to
// call at any time from any goroutine.
func (n *Node) SetGlobal(g GlobalResolver) {
	if g == nil {
		n.global.Store(nil)
		return
	}
	n.global.Store(&globalBox{g: g})
}

// lookupGlobal resolves a global name: ErrNoGlobal without a resolver,
// ErrNotFound for a name nobody holds. A local miss is checked with the
// leader when the resolver can (LeaderResolver).
func (n *Node) lookupGlobal(ctx context.Context, name string) (PID, uint64, error) {
	b := n.global.Load()
	if b == nil {
		return PID{}, 0, fmt.Errorf("%w: %q", ErrNoGlobal, name)
	}
	pid, fence, ok := b.g.Resolve(name)
	if !ok {
		if lr, can := b.g.(LeaderResolver); can {
			pid, fence, ok = lr.ResolveWithLeader(ctx, name)
		}
	}
	if !ok {
		return PID{}, 0, fmt.Errorf("%w: global %q", ErrNotFound, name)
	}
	return pid, fence, nil
}

// sendGlobal sends by global name.
func (n *Node) sendGlobal(ctx context.Context, from PID, d Dest, msg any) error {
	var name string
	var want uint64
	switch g := d.(type) {
	case Global:
		name = string(g)
	case GlobalFenced:
		name, want = g.Name, g.Fence
	}
	pid, fence, err := n.lookupGlobal(ctx, name)
	if err != nil {
		return err
	}
	if want != 0 && fence != want {
		n.stats.dropped.Add(1)
		return fmt.Errorf("%w: %q is at fence %d, not %d", ErrStaleFence, name, fence, want)
	}
	env := &transport.Envelope{Kind: transport.KindMessage, GlobalName: name, Fence: fence}
	return n.sendPID(ctx, from, pid, msg, env)
}

// fenceOK checks an inbound message sent by global name: it is stale when
// this node's replica holds the name under a newer registration.
// Without a resolver, or when the name is unknown here (the replica may
// lag), the message passes.
func (n *Node) fenceOK(env *transport.Envelope) bool {
	if env.GlobalName == "" {
		return true
	}
	b := n.global.Load()
	if b == nil {
		return true
	}
	_, fence, ok := b.g.Resolve(env.GlobalName)
	return !ok || fence <= env.Fence
}
