package node

import (
	"context"
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// Global is a cluster-wide name, as a Dest. Sends resolve it through the
// node's GlobalNames and carry the registration's fence, so the receiving
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

// GlobalNames is the seam to the cluster-wide name table (package global).
// The node calls it on the sending goroutine for Send(Global) and on the
// transport's reader goroutine to check fences of inbound messages, so it
// must answer from the local replica without blocking on the network.
type GlobalNames interface {
	// Lookup returns the current owner of name and the fence (Raft index)
	// of its registration. A missing name returns an error wrapping
	// ErrNameNotFound (or the table's own not-found error).
	Lookup(ctx context.Context, name string) (owner PID, fence uint64, err error)
}

type globalBox struct{ g GlobalNames }

// SetGlobal wires the cluster-wide name table in (nil unwires it). Safe to
// call at any time from any goroutine.
func (n *Node) SetGlobal(g GlobalNames) {
	if g == nil {
		n.global.Store(nil)
		return
	}
	n.global.Store(&globalBox{g: g})
}

// lookupGlobal resolves a global name, or returns ErrNoGlobal.
func (n *Node) lookupGlobal(ctx context.Context, name string) (PID, uint64, error) {
	b := n.global.Load()
	if b == nil {
		return PID{}, 0, fmt.Errorf("%w: %q", ErrNoGlobal, name)
	}
	return b.g.Lookup(ctx, name)
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
// this node's replica holds the name under a newer registration. Without a global table, or when the name is unknown here
// (the replica may lag), the message passes.
func (n *Node) fenceOK(env *transport.Envelope) bool {
	if env.GlobalName == "" {
		return true
	}
	b := n.global.Load()
	if b == nil {
		return true
	}
	_, fence, err := b.g.Lookup(context.Background(), env.GlobalName)
	if err != nil {
		return true
	}
	return fence <= env.Fence
}
