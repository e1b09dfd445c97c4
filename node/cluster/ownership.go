package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/local"
)

// GlobalNameLost is delivered to a process (as Message.Body) when it loses a
// global name it did not give up: its node was cut off and the majority
// purged the name (Reason "node_down"), another process re-registered it
// ("conflict"), or an operator removed it ("unregister"). The process no
// longer holds the name and must stop acting as its owner.
type GlobalNameLost struct {
	Name   string
	Fence  uint64        // the registration that was lost
	Reason global.Reason // node_down, conflict, unregister, resync, ...
}

// ownedNames tracks the global names this node's processes hold and tells
// them when they lose one. It follows the table's watch stream, and after a
// gap in the stream (a snapshot install after a partition) compares its
// list with the replica.
type ownedNames struct {
	n *Node

	mu    sync.Mutex
	names map[string]global.Registration
}

func newOwnedNames(n *Node) *ownedNames {
	return &ownedNames{n: n, names: make(map[string]global.Registration)}
}

func (o *ownedNames) add(r global.Registration) {
	o.mu.Lock()
	o.names[r.Name] = r
	o.mu.Unlock()
}

// forget drops name before its owner unregisters it, so the owner is not
// told it lost a name it gave up. It returns what was dropped.
func (o *ownedNames) forget(name string) (global.Registration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.names[name]
	delete(o.names, name)
	return r, ok
}

func (o *ownedNames) run() {
	ctx := o.n.ctx
	for {
		from := o.n.table.Stats().AppliedIndex
		o.resync()
		ch, err := o.n.table.Watch(ctx, "", from+1)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		for ev := range ch {
			o.onEvent(ev)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (o *ownedNames) onEvent(ev global.Event) {
	if !o.n.isLocal(ev.Owner) {
		return
	}
	switch ev.Type {
	case global.EventRegistered:
		o.add(global.Registration{Name: ev.Name, Owner: ev.Owner, Meta: ev.Meta, Fence: ev.Fence, Index: ev.Index})
	case global.EventUnregistered:
		o.mu.Lock()
		r, ok := o.names[ev.Name]
		if ok && r.Owner == ev.Owner {
			delete(o.names, ev.Name)
		}
		o.mu.Unlock()
		if ok && r.Owner == ev.Owner && ev.Reason != global.ReasonProcessExit {
			o.notify(r, ev.Reason)
		}
	}
}

// resync compares the tracked names with the replica and notifies the
// owners of names that are gone or held by someone else now.
func (o *ownedNames) resync() {
	applied := o.n.table.Stats().AppliedIndex
	o.mu.Lock()
	var lost []global.Registration
	for name, r := range o.names {
		if applied < r.Index {
			continue // the replica has not caught up with this registration yet
		}
		cur, _, err := o.n.table.Lookup(o.n.ctx, name)
		if err != nil || cur.Owner != r.Owner || cur.Fence != r.Fence {
			lost = append(lost, r)
			delete(o.names, name)
		}
	}
	o.mu.Unlock()
	for _, r := range lost {
		o.notify(r, local.ReasonResync)
	}
}

func (o *ownedNames) notify(r global.Registration, reason global.Reason) {
	if !o.n.Alive(r.Owner) || o.n.leaving.Load() {
		return // a leaving node's processes are about to be shut down
	}
	o.n.stats.lost.Add(1)
	o.n.Logger().Warn("process lost its global name", "name", r.Name, "pid", r.Owner, "reason", reason)
	_ = o.n.Send(context.Background(), r.Owner, GlobalNameLost{Name: r.Name, Fence: r.Fence, Reason: reason})
}

// snapshot lists the tracked registrations.
func (o *ownedNames) snapshot() []global.Registration {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]global.Registration, 0, len(o.names))
	for _, r := range o.names {
		out = append(out, r)
	}
	return out
}
