package global

import (
	"context"

	"github.com/roster-dev/roster/transport"
)

// Register binds name to owner with meta (at most MaxMetaLen bytes). It
// succeeds only once a raft quorum committed it, and returns the
// registration with its Fence. If a live process owns the name it fails
// with *AlreadyRegisteredError (errors.Is ErrAlreadyRegistered), even when
// that process is owner. An owner whose node incarnation was purged gets
// ErrOwnerGone. Callers (node) check that owner is a live local process.
// ctx bounds the whole call, forwarding and hold window included.
func (t *Table) Register(ctx context.Context, name string, owner transport.PID, meta []byte) (Registration, error) {
	r, err := t.write(ctx, command{Op: opRegister, Name: name, Owner: owner, Meta: meta})
	if err != nil {
		return Registration{}, err
	}
	return Registration{Name: name, Owner: owner, Meta: meta, Fence: r.Fence, Index: r.Index}, nil
}

// ReRegister atomically points name at owner whoever held it (Erlang's
// :global.re_register_name). A previous different owner loses the name
// with an EventUnregistered of reason ReasonConflict. Re-registering the
// same owner only replaces meta and keeps the Fence.
func (t *Table) ReRegister(ctx context.Context, name string, owner transport.PID, meta []byte) (Registration, error) {
	r, err := t.write(ctx, command{Op: opReRegister, Name: name, Owner: owner, Meta: meta})
	if err != nil {
		return Registration{}, err
	}
	return Registration{Name: name, Owner: owner, Meta: meta, Fence: r.Fence, Index: r.Index}, nil
}

// UpdateMeta replaces the metadata of owner's registration of name. It
// fails with ErrNotFound or ErrNotOwner. The Fence is unchanged.
func (t *Table) UpdateMeta(ctx context.Context, name string, owner transport.PID, meta []byte) (Registration, error) {
	r, err := t.write(ctx, command{Op: opUpdateMeta, Name: name, Owner: owner, Meta: meta})
	if err != nil {
		return Registration{}, err
	}
	return Registration{Name: name, Owner: owner, Meta: meta, Fence: r.Fence, Index: r.Index}, nil
}

// Unregister removes name if owner owns it: ErrNotFound if it is not
// registered, ErrNotOwner if another process owns it.
func (t *Table) Unregister(ctx context.Context, name string, owner transport.PID) error {
	_, err := t.write(ctx, command{Op: opUnregister, Name: name, Owner: owner})
	return err
}

// ForceUnregister removes name whoever owns it (an operator action).
// ErrNotFound if it is not registered.
func (t *Table) ForceUnregister(ctx context.Context, name string) error {
	_, err := t.write(ctx, command{Op: opUnregister, Name: name, Force: true})
	return err
}

// UnregisterPID removes every name pid owns, with reason (normally
// ReasonProcessExit), and returns how many went. Node calls it when a
// process that owned global names exits.
func (t *Table) UnregisterPID(ctx context.Context, pid transport.PID, reason Reason) (int, error) {
	r, err := t.write(ctx, command{Op: opUnregisterPID, Owner: pid, Reason: reason})
	return r.Count, err
}

// PurgeIncarnation removes every name owned by processes of node's boot
// incarnation, with reason (ReasonNodeDown, ReasonNodeLeft), and remembers
// the incarnation as dead: later registrations for it fail with
// ErrOwnerGone. Names of the node's other incarnations survive. It returns
// how many names went.
func (t *Table) PurgeIncarnation(ctx context.Context, node transport.NodeID, incarnation uint64, reason Reason) (int, error) {
	r, err := t.write(ctx, command{Op: opPurge, Node: node, Incarnation: incarnation, Reason: reason})
	return r.Count, err
}

// PurgeNodeExcept removes the names of every incarnation of node except
// keep (the live one: a fast restart), with reason (ReasonRestart), and
// remembers each purged incarnation that owned names as dead. It returns
// how many names went.
func (t *Table) PurgeNodeExcept(ctx context.Context, node transport.NodeID, keep uint64, reason Reason) (int, error) {
	r, err := t.write(ctx, command{Op: opPurge, Node: node, Incarnation: keep, Except: true, Reason: reason})
	return r.Count, err
}

// ReviveIncarnation lets (node, incarnation) register names again after a
// purge: the leader calls it when gossip shows that incarnation alive
// after it was declared dead (a pause or partition outlasted the purge
// grace). The purged names stay purged; their owners were told. It
// reports whether the incarnation was marked purged.
func (t *Table) ReviveIncarnation(ctx context.Context, node transport.NodeID, inc uint64) (bool, error) {
	r, err := t.write(ctx, command{Op: opRevive, Node: node, Incarnation: inc})
	return r.Count == 1, err
}

// IsPurged reports whether this replica has (node, incarnation) marked as
// purged (its registrations are refused with ErrOwnerGone).
func (t *Table) IsPurged(node transport.NodeID, inc uint64) bool {
	t.fsm.mu.RLock()
	defer t.fsm.mu.RUnlock()
	_, ok := t.fsm.purged[incarnation{Node: node, Incarnation: inc}]
	return ok
}
