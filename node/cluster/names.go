package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// checkOwner refuses a pid that is not a live process of this node: a node
// registers global names only for its own processes, so that it can
// unregister them when they exit.
func (n *Node) checkOwner(pid node.PID) error {
	if !n.isLocal(pid) {
		return fmt.Errorf("%w: %s", node.ErrNotLocal, pid)
	}
	if !n.Alive(pid) {
		return fmt.Errorf("%w: %s", node.ErrNoProc, pid)
	}
	return nil
}

// isLocal reports whether pid was issued by this boot of this node.
func (n *Node) isLocal(pid node.PID) bool {
	return pid.Node == n.ID() && pid.Incarnation == n.Incarnation()
}

// RegisterGlobal registers name cluster-wide for pid, a live process of
// this node, with an optional small meta value. It returns once a Raft
// quorum has committed it; the Registration's Fence is the commit index.
// A taken name fails with *global.AlreadyRegisteredError (errors.Is
// global.ErrAlreadyRegistered) carrying the owner; a minority side fails
// with global.ErrNoQuorum by ctx's deadline; global.ErrOutcomeUnknown means
// leadership was lost mid-commit and the name may or may not be held (look
// it up). The name goes when pid exits.
func (n *Node) RegisterGlobal(ctx context.Context, name string, pid node.PID, meta []byte) (global.Registration, error) {
	return n.registerGlobal(ctx, name, pid, meta, false)
}

// ReRegisterGlobal points name at pid whoever holds it now (like
// :global.re_register_name); the previous owner gets NameLost with reason
// "conflict" if it is a process of this cluster.
func (n *Node) ReRegisterGlobal(ctx context.Context, name string, pid node.PID, meta []byte) (global.Registration, error) {
	return n.registerGlobal(ctx, name, pid, meta, true)
}

func (n *Node) registerGlobal(ctx context.Context, name string, pid node.PID, meta []byte, re bool) (global.Registration, error) {
	if err := global.ValidateName(name); err != nil {
		return global.Registration{}, err
	}
	if err := n.checkOwner(pid); err != nil {
		return global.Registration{}, err
	}
	if err := n.exits.attach(pid); err != nil {
		return global.Registration{}, err
	}
	var reg global.Registration
	var err error
	if re {
		reg, err = n.table.ReRegister(ctx, name, pid, meta)
	} else {
		reg, err = n.table.Register(ctx, name, pid, meta)
	}
	if err != nil {
		return reg, err
	}
	n.owned.add(reg)
	if !n.Alive(pid) {
		// It exited while the write was in flight, perhaps before the
		// exit hook could see the name: make sure the name goes.
		n.exits.enqueue(pid)
	}
	return reg, nil
}

// UnregisterGlobal removes name if pid owns it (global.ErrNotOwner if not,
// global.ErrNotFound if nobody does).
func (n *Node) UnregisterGlobal(ctx context.Context, name string, pid node.PID) error {
	if err := global.ValidateName(name); err != nil {
		return err
	}
	r, had := n.owned.forget(name)
	err := n.table.Unregister(ctx, name, pid)
	if err != nil && had && r.Owner == pid && !errors.Is(err, global.ErrNotFound) {
		n.owned.add(r) // still ours
	}
	return err
}

// LookupGlobal returns name's registration. By default it reads this
// node's replica (no network; ReadInfo says how stale it may be); pass
// global.Consistent for a leader-verified, linearizable read bounded by ctx.
func (n *Node) LookupGlobal(ctx context.Context, name string, opts ...global.ReadOption) (global.Registration, global.ReadInfo, error) {
	return n.table.Lookup(ctx, name, opts...)
}

// ListGlobal returns the names starting with prefix, sorted.
func (n *Node) ListGlobal(ctx context.Context, prefix string, opts ...global.ReadOption) ([]global.Registration, global.ReadInfo, error) {
	return n.table.List(ctx, prefix, opts...)
}

// WatchGlobal streams registration changes of names starting with prefix,
// from fromIndex (0: from now). See global.Table.Watch.
func (n *Node) WatchGlobal(ctx context.Context, prefix string, fromIndex uint64) (<-chan global.Event, error) {
	return n.table.Watch(ctx, prefix, fromIndex)
}

// GlobalTable returns the node's global name table for operations the
// node does not wrap (ForceUnregister, Stats, Configuration).
func (n *Node) GlobalTable() *global.Table { return n.table }
