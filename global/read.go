package global

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// ReadOption changes how Lookup and List read.
type ReadOption func(*readOptions)

type readOptions struct {
	consistent bool
	minIndex   uint64 // MinIndex
}

// Consistent makes a read linearizable: the leader confirms it still leads
// (VerifyLeader) and answers from a replica that holds every write
// acknowledged before the read began. A follower forwards the read to the
// leader. Without it reads use the local replica (nanoseconds, maybe stale).
var Consistent ReadOption = func(o *readOptions) { o.consistent = true }

// ReadInfo describes the replica a read was served from.
type ReadInfo struct {
	// Index is the raft index the replica had applied.
	Index uint64
	// LastContact is how long ago this node last heard from the leader
	// (0 on the leader and for consistent reads).
	LastContact time.Duration
	// Stale is set when the replica may be behind: no leader is known, or
	// the leader was last heard from longer ago than StaleAfter.
	Stale bool
	// Consistent is set when the read was verified by the leader.
	Consistent bool
}

// Lookup returns name's registration, or ErrNotFound. By default it reads
// the local replica without allocating or blocking; a miss on a follower
// is checked with the leader before it is reported (read your writes;
// bounded by ctx and ForwardTimeout), and a hit found there comes back
// with ReadInfo.Consistent set. With Consistent it is linearizable and
// bounded by ctx and HoldWindow; with MinIndex it first waits for the
// replica to reach that index.
func (t *Table) Lookup(ctx context.Context, name string, opts ...ReadOption) (Registration, ReadInfo, error) {
	if err := ValidateName(name); err != nil {
		return Registration{}, ReadInfo{}, err
	}
	if len(opts) > 0 {
		var o readOptions
		for _, fn := range opts {
			fn(&o)
		}
		if o.consistent {
			return t.consistentLookup(ctx, name)
		}
		if err := t.waitApplied(ctx, o.minIndex); err != nil {
			return Registration{}, t.localInfo(), err
		}
	}
	reg, ok := t.fsm.lookup(name)
	info := t.localInfo()
	if !ok {
		if reg, linfo, found := t.leaderCheck(ctx, name); found {
			return reg, linfo, nil
		}
		return Registration{}, info, ErrNotFound
	}
	return reg, info, nil
}

// List returns the registrations whose names start with prefix ("" for
// all), sorted by name: from the local replica, or with Consistent from
// the leader, bounded by ctx and HoldWindow.
func (t *Table) List(ctx context.Context, prefix string, opts ...ReadOption) ([]Registration, ReadInfo, error) {
	var o readOptions
	for _, fn := range opts {
		fn(&o)
	}
	if !o.consistent {
		if err := t.waitApplied(ctx, o.minIndex); err != nil {
			return nil, t.localInfo(), err
		}
		return t.fsm.list(prefix), t.localInfo(), nil
	}
	resp, err := t.consistentRead(ctx, readRequest{Name: prefix, List: true})
	if err != nil {
		return nil, ReadInfo{}, err
	}
	return resp.Regs, ReadInfo{Index: resp.Index, Consistent: true}, nil
}

// Page limits of ListPage (and of the HTTP API's listings).
const (
	DefaultPageLimit = 1000  // a limit <= 0 means this
	MaxPageLimit     = 10000 // a larger limit fails with ErrBadLimit
)

// ListPage is List one page at a time, so a table of a million names is
// never copied whole: it returns up to limit registrations (limit <= 0:
// DefaultPageLimit; above MaxPageLimit: ErrBadLimit) whose names start
// with prefix and sort after after (exclusive; "" for the first page),
// sorted by name, and next, the after of the following page: "" when no
// more remain. With Consistent each page is one linearizable read, bounded
// by ctx.
func (t *Table) ListPage(ctx context.Context, prefix, after string, limit int, opts ...ReadOption) (regs []Registration, next string, info ReadInfo, err error) {
	switch {
	case limit <= 0:
		limit = DefaultPageLimit
	case limit > MaxPageLimit:
		return nil, "", ReadInfo{}, fmt.Errorf("%w: %d (at most %d)", ErrBadLimit, limit, MaxPageLimit)
	}
	var o readOptions
	for _, fn := range opts {
		fn(&o)
	}
	var more bool
	if o.consistent {
		resp, err := t.consistentRead(ctx, readRequest{Name: prefix, List: true, After: after, Limit: limit})
		if err != nil {
			return nil, "", ReadInfo{}, err
		}
		regs, more, info = resp.Regs, resp.More, ReadInfo{Index: resp.Index, Consistent: true}
	} else {
		regs, more = t.fsm.page(prefix, after, limit)
		info = t.localInfo()
	}
	if more && len(regs) > 0 {
		next = regs[len(regs)-1].Name
	}
	return regs, next, info, nil
}

// Count returns how many names the local replica holds.
func (t *Table) Count() int {
	t.fsm.mu.RLock()
	defer t.fsm.mu.RUnlock()
	return len(t.fsm.names)
}

// ByNode returns the local replica's registrations owned by processes of
// node (any incarnation), sorted by name.
func (t *Table) ByNode(node transport.NodeID) []Registration {
	t.fsm.mu.RLock()
	defer t.fsm.mu.RUnlock()
	return t.fsm.collect(t.fsm.namesOfNode(node, nil))
}

// ByPID returns the local replica's registrations owned by pid, sorted.
func (t *Table) ByPID(pid transport.PID) []Registration {
	t.fsm.mu.RLock()
	defer t.fsm.mu.RUnlock()
	return t.fsm.collect(t.fsm.namesOfPID(pid))
}

// Resolve returns name's owner and fence from the local replica: the
// routing fast path for sends by global name and for receivers' fence
// checks (no validation, no staleness report; see Lookup for those). It
// makes *Table a node.GlobalResolver.
func (t *Table) Resolve(name string) (owner transport.PID, fence uint64, ok bool) {
	reg, ok := t.fsm.lookup(name)
	return reg.Owner, reg.Fence, ok
}

// localInfo reports the local replica's staleness.
func (t *Table) localInfo() ReadInfo {
	info := ReadInfo{Index: t.fsm.appliedIndex()}
	if t.raft.State() == raft.Leader {
		return info
	}
	if _, id := t.raft.LeaderWithID(); id == "" {
		info.Stale = true
	}
	if last := t.raft.LastContact(); last.IsZero() {
		info.Stale = true
	} else {
		info.LastContact = time.Since(last)
		info.Stale = info.Stale || info.LastContact > t.staleAfter
	}
	return info
}

func (t *Table) consistentLookup(ctx context.Context, name string) (Registration, ReadInfo, error) {
	resp, err := t.consistentRead(ctx, readRequest{Name: name})
	if err != nil {
		return Registration{}, ReadInfo{}, err
	}
	info := ReadInfo{Index: resp.Index, Consistent: true}
	if resp.Code == codeNotFound || len(resp.Regs) != 1 {
		return Registration{}, info, ErrNotFound
	}
	return resp.Regs[0], info, nil
}

// consistentRead serves req on the leader (here, or over the Forwarder),
// retrying across leader changes until ctx or HoldWindow ends.
func (t *Table) consistentRead(ctx context.Context, req readRequest) (*readResponse, error) {
	defer t.measure([]string{"global", "read", "consistent"}, time.Now())
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HoldWindow)
	defer cancel()
	wait := retryMin
	for {
		resp := t.readOnce(ctx, req)
		switch {
		case resp.Code == codeShutdown:
			return nil, ErrShutdown
		case !resp.Code.retryable():
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, t.giveUp(ctx, false)
		case <-t.shutdownCh:
			return nil, ErrShutdown
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

func (t *Table) readOnce(ctx context.Context, req readRequest) *readResponse {
	if t.isShutdown() {
		return &readResponse{Code: codeShutdown}
	}
	if t.raft.State() == raft.Leader {
		return t.serveRead(ctx, req)
	}
	_, id := t.raft.LeaderWithID()
	if id == "" || t.cfg.Forwarder == nil {
		return &readResponse{Code: codeNotLeader}
	}
	body, err := msgpack.Marshal(&req)
	if err != nil {
		return &readResponse{Code: codeOf(err)}
	}
	out, err := t.cfg.Forwarder.Call(ctx, transport.NodeID(id), MethodRead, body)
	var resp readResponse
	if err == nil {
		err = resp.unmarshal(out)
	}
	if err != nil {
		t.logger.Debug("forwarded read failed", "leader", id, "error", err)
		return &readResponse{Code: codeNotLeader}
	}
	return &resp
}

// verifyLeader waits until this leader's FSM caught up with earlier terms,
// then confirms with a quorum that it still leads.
func (t *Table) verifyLeader(ctx context.Context) error {
	for !t.readyForReads.Load() {
		if t.raft.State() != raft.Leader {
			return ErrNotLeader
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoQuorum, ctx.Err())
		case <-t.shutdownCh:
			return ErrShutdown
		case <-time.After(time.Millisecond):
		}
	}
	if err := t.waitFuture(t.raft.VerifyLeader()); err != nil {
		if errors.Is(err, raft.ErrRaftShutdown) {
			return ErrShutdown
		}
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return nil
}

// lookup reads one name from the replica.
func (f *fsm) lookup(name string) (Registration, bool) {
	f.mu.RLock()
	reg, ok := f.names[name]
	f.mu.RUnlock()
	return reg, ok
}

// list returns the names starting with prefix, sorted.
func (f *fsm) list(prefix string) []Registration {
	regs, _ := f.page(prefix, "", 0)
	return regs
}

// page returns, sorted, up to limit (0: no limit) registrations whose names
// start with prefix and sort after after ("" : from the first), and whether
// more remain.
func (f *fsm) page(prefix, after string, limit int) ([]Registration, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Registration, 0, min(max(limit, 16), 1024))
	more := false
	f.order.AscendGreaterOrEqual(max(prefix, after), func(n string) bool {
		switch {
		case n == after:
			return true // after is exclusive
		case !strings.HasPrefix(n, prefix):
			return false
		case limit > 0 && len(out) == limit:
			more = true
			return false
		}
		out = append(out, f.names[n])
		return true
	})
	return out, more
}

// collect returns the registrations of names (sorted). The caller holds
// f.mu.
func (f *fsm) collect(names []string) []Registration {
	out := make([]Registration, 0, len(names))
	for _, n := range names {
		out = append(out, f.names[n])
	}
	return out
}
