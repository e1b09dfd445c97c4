package cluster

import (
	"context"
	"errors"
	"fmt"
	"iter"

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

// ListGlobal returns every name starting with prefix, sorted. On a large
// table prefer ListGlobalPage or GlobalNames, which copy one page at a
// time.
func (n *Node) ListGlobal(ctx context.Context, prefix string, opts ...global.ReadOption) ([]global.Registration, global.ReadInfo, error) {
	return n.table.List(ctx, prefix, opts...)
}

// ListGlobalPage returns one page of the names starting with prefix: up to
// limit (<= 0: global.DefaultPageLimit, 1000; above global.MaxPageLimit,
// 10000: global.ErrBadLimit) sorting after after (exclusive; "" for the
// first page), and next, the after of the following page ("" on the last).
func (n *Node) ListGlobalPage(ctx context.Context, prefix, after string, limit int, opts ...global.ReadOption) (regs []global.Registration, next string, info global.ReadInfo, err error) {
	return n.table.ListPage(ctx, prefix, after, limit, opts...)
}

// GlobalNames iterates over the names starting with prefix, in order, one
// page of global.DefaultPageLimit at a time (each page is one read: with
// global.Consistent, one linearizable read). Names registered or removed
// while it runs may or may not be seen. A failed page ends the iteration
// with its error.
func (n *Node) GlobalNames(ctx context.Context, prefix string, opts ...global.ReadOption) iter.Seq2[global.Registration, error] {
	return func(yield func(global.Registration, error) bool) {
		after := ""
		for {
			regs, next, _, err := n.ListGlobalPage(ctx, prefix, after, 0, opts...)
			if err != nil {
				yield(global.Registration{}, err)
				return
			}
			for _, r := range regs {
				if !yield(r, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			after = next
		}
	}
}

// WatchGlobal streams registration changes of names starting with prefix,
// from fromIndex (0: from now). See global.Table.Watch.
func (n *Node) WatchGlobal(ctx context.Context, prefix string, fromIndex uint64) (<-chan global.Event, error) {
	return n.table.Watch(ctx, prefix, fromIndex)
}

// GlobalTable returns the node's global name table for operations the
// node does not wrap (ForceUnregister, Stats, Configuration).
func (n *Node) GlobalTable() *global.Table { return n.table }
