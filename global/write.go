package global

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Retry pacing while no leader is known or a leader change is in progress.
const (
	retryMin = 2 * time.Millisecond
	retryMax = 50 * time.Millisecond
)

// write commits cmd through the leader, retrying with the same request id
// across leader changes until the hold window or ctx ends. The FSM applies
// a request id once, so retrying an attempt whose outcome is unknown is
// safe; only if no retry gets an answer is ErrOutcomeUnknown reported.
func (t *Table) write(ctx context.Context, cmd command) (result, error) {
	cmd.Version = commandVersion
	cmd.Req = t.nextReqID()
	if err := cmd.validate(); err != nil {
		return result{}, err
	}
	defer t.measure([]string{"global", "write", opNames[cmd.Op]}, time.Now())
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HoldWindow)
	defer cancel()
	uncertain := false
	wait := retryMin
	for {
		if id, ok := t.unreachableLeader(); ok {
			return result{}, fmt.Errorf("%w: leader is %s and no Forwarder is configured", ErrNotLeader, id)
		}
		r := t.attempt(ctx, cmd)
		switch {
		case r.Code == codeShutdown:
			return r, ErrShutdown
		case !r.Code.retryable():
			return r, r.err(cmd.Name)
		case r.Code == codeUnknown:
			uncertain = true
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return result{}, t.giveUp(ctx, uncertain)
		case <-t.shutdownCh:
			timer.Stop()
			return result{}, ErrShutdown
		case <-timer.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// attempt makes one try: through the local group commit when leader, else
// forwarded to the known leader.
func (t *Table) attempt(ctx context.Context, cmd command) result {
	if t.isShutdown() {
		return result{Code: codeShutdown}
	}
	g := t.leaderGC
	if t.raft.State() != raft.Leader {
		if _, id := t.raft.LeaderWithID(); id == "" || t.cfg.Forwarder == nil {
			return result{Code: codeNotLeader}
		}
		g = t.fwdGC
	}
	p := newPending(cmd)
	if err := g.submit(ctx, p); err != nil {
		if t.isShutdown() {
			return result{Code: codeShutdown}
		}
		return result{Code: codeNotLeader} // not queued: nothing happened
	}
	select {
	case r := <-p.done:
		return r
	case <-ctx.Done():
		return result{Code: codeUnknown} // queued or in flight
	case <-t.shutdownCh:
		return result{Code: codeShutdown}
	}
}

// giveUp builds the error for a write whose retries ran out.
func (t *Table) giveUp(ctx context.Context, uncertain bool) error {
	cause := ErrNoQuorum
	if _, id := t.raft.LeaderWithID(); id == "" {
		cause = fmt.Errorf("%w (%w)", ErrNoQuorum, ErrNoLeader)
	}
	if uncertain {
		t.incr([]string{"global", "write", "unknown"})
		return fmt.Errorf("%w: %w: %w", ErrOutcomeUnknown, cause, ctx.Err())
	}
	t.incr([]string{"global", "write", "no_quorum"})
	return fmt.Errorf("%w: %w", cause, ctx.Err())
}

// unreachableLeader reports the leader's id when another node leads and
// this one has no Forwarder to reach it.
func (t *Table) unreachableLeader() (string, bool) {
	if t.cfg.Forwarder != nil || t.raft.State() == raft.Leader {
		return "", false
	}
	_, id := t.raft.LeaderWithID()
	return string(id), id != ""
}
