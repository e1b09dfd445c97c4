package global

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// Read your writes: a registration acknowledged on any node must be found
// by a send or a lookup on every node, even before that node's replica has
// applied it. The hit path stays local; a local miss on a follower asks
// the leader (a consistent lookup) before it is reported. On the leader a
// miss is already authoritative: a write is acknowledged only after the
// leader's FSM applied it.

// missTimeout bounds the leader check of one miss.
func (t *Table) missTimeout() time.Duration { return t.cfg.ForwardTimeout }

// leaderCheck looks name up with the leader after a local miss; ok is false
// when this node leads, the leader does not hold it either, or it could
// not be asked within ctx and missTimeout.
func (t *Table) leaderCheck(ctx context.Context, name string) (Registration, ReadInfo, bool) {
	if t.raft.State() == raft.Leader || t.isShutdown() {
		return Registration{}, ReadInfo{}, false
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, t.missTimeout())
	defer cancel()
	reg, info, err := t.consistentLookup(ctx, name)
	if err != nil {
		return Registration{}, ReadInfo{}, false
	}
	return reg, info, true
}

// ResolveWithLeader is Resolve for a name this replica just missed: it
// asks the leader (see leaderCheck) without reading the replica again. It
// makes *Table a node.LeaderResolver.
func (t *Table) ResolveWithLeader(ctx context.Context, name string) (owner transport.PID, fence uint64, ok bool) {
	reg, _, ok := t.leaderCheck(ctx, name)
	return reg.Owner, reg.Fence, ok
}

// MinIndex makes a local read wait (bounded by its ctx and HoldWindow)
// until this replica has applied at least index, e.g. the Index a
// Register returned on another node: the read then sees that write and
// everything before it. It fails with ErrNoQuorum-wrapped context errors
// when the replica does not get there in time.
func MinIndex(index uint64) ReadOption {
	return func(o *readOptions) { o.minIndex = max(o.minIndex, index) }
}

// waitApplied waits until the replica applied index.
func (t *Table) waitApplied(ctx context.Context, index uint64) error {
	if t.fsm.appliedIndex() >= index {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HoldWindow)
	defer cancel()
	wait := 200 * time.Microsecond
	for t.fsm.appliedIndex() < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: replica at index %d, waiting for %d: %w", ErrNoQuorum, t.fsm.appliedIndex(), index, ctx.Err())
		case <-t.shutdownCh:
			return ErrShutdown
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
	return nil
}
