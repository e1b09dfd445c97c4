package global

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// MethodLease carries a lease renewal from a node to the leader (see
// RenewLease). On the wire: never rename it.
const MethodLease = "global.lease"

// maxLeaseNodes bounds the leader's table of lease grants (one entry per
// node that renewed). A renewal that would grow it further is refused
// (never forgotten: forgetting a grant would let the leader purge a node
// whose lease may still run).
const maxLeaseNodes = 1 << 16

// maxLeaseRegs bounds the registrations one renewal may ask about.
const maxLeaseRegs = 1 << 16

// NameFence names one registration: a name under the fence it was
// registered with.
type NameFence struct {
	Name  string `msgpack:"n"`
	Fence uint64 `msgpack:"f"`
}

// LeaseGrant is what a successful RenewLease proves: at some instant after
// Sent (this node's clock, taken before the request left), the leader still
// had a quorum, and at that instant Held[i] told whether regs[i] was still
// the current registration of its name (leader-verified, not this
// replica's view).
type LeaseGrant struct {
	Sent time.Time
	Held []bool
}

type leaseRequest struct {
	Regs []NameFence `msgpack:"r"`
}

type leaseResponse struct {
	Code errCode `msgpack:"c"`
	Held []bool  `msgpack:"h"`
}

// leases is the leader's record of when it last granted each node a lease
// renewal, by its own monotonic clock, and since when it has led: a grant
// an earlier leader made happened before this leader was elected (its
// quorum acknowledged the old term before voting in the new one), so the
// leadership start stands in for every grant this leader did not see.
type leases struct {
	mu      sync.Mutex
	leading bool
	since   time.Time
	granted map[transport.NodeID]time.Time
}

func (l *leases) setLeader(leader bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leading = leader
	l.since = time.Now()
	l.granted = nil
}

// grant records a renewal by node now; false if the table is full.
func (l *leases) grant(node transport.NodeID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leading {
		return false
	}
	if l.granted == nil {
		l.granted = make(map[transport.NodeID]time.Time)
	}
	if _, ok := l.granted[node]; !ok && len(l.granted) >= maxLeaseNodes {
		return false
	}
	l.granted[node] = time.Now()
	return true
}

func (l *leases) lastGrant(node transport.NodeID) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leading {
		return time.Time{}, false
	}
	g, ok := l.granted[node]
	if !ok || g.Before(l.since) {
		g = l.since
	}
	return g, true
}

// RenewLease asks the leader (this node, or over the Forwarder) to confirm
// with a quorum that it still leads, records the grant for this node, and
// reports which of regs are still current. The caller owns what the lease
// means: a node that holds work under a lease of length L may keep it
// until Sent+L on its own clock; the leader waits L (plus the clock-rate
// bound) after LastLeaseGrant before it takes the work away. It returns
// ErrNoQuorum, ErrNotLeader-wrapping errors or ctx's error when no leader
// confirmed in time.
func (t *Table) RenewLease(ctx context.Context, regs []NameFence) (LeaseGrant, error) {
	if len(regs) > maxLeaseRegs {
		return LeaseGrant{}, fmt.Errorf("%w: %d registrations in one lease renewal (max %d)", ErrBadRequest, len(regs), maxLeaseRegs)
	}
	sent := time.Now()
	if t.isShutdown() {
		return LeaseGrant{}, ErrShutdown
	}
	var resp leaseResponse
	if t.raft.State() == raft.Leader {
		resp = t.serveLease(ctx, t.cfg.NodeID, regs)
	} else {
		_, id := t.raft.LeaderWithID()
		if id == "" || t.cfg.Forwarder == nil {
			return LeaseGrant{}, fmt.Errorf("%w: no known leader", ErrNoQuorum)
		}
		body, err := msgpack.Marshal(&leaseRequest{Regs: regs})
		if err != nil {
			return LeaseGrant{}, err
		}
		out, err := t.cfg.Forwarder.Call(ctx, transport.NodeID(id), MethodLease, body)
		if err == nil {
			err = msgpack.Unmarshal(out, &resp)
		}
		if err != nil {
			return LeaseGrant{}, fmt.Errorf("%w: lease renewal at %s: %w", ErrNoQuorum, id, err)
		}
	}
	if resp.Code != codeOK {
		err, ok := codeErrs[resp.Code]
		if !ok {
			err = ErrNoQuorum
		}
		return LeaseGrant{}, fmt.Errorf("lease renewal: %w", err)
	}
	if len(resp.Held) != len(regs) {
		return LeaseGrant{}, fmt.Errorf("%w: lease renewal answered %d of %d registrations", ErrBadRequest, len(resp.Held), len(regs))
	}
	return LeaseGrant{Sent: sent, Held: resp.Held}, nil
}

// LastLeaseGrant is, on the leader, when it last granted node a lease (its
// own clock), or when it became leader if that is later; ok is false on a
// follower. A node's lease of length L has surely run out once
// L×(1+2ρ) passed since then, for a clock-rate bound ρ.
func (t *Table) LastLeaseGrant(node transport.NodeID) (time.Time, bool) {
	return t.leases.lastGrant(node)
}

// serveLease verifies leadership, records the grant and checks regs
// against the (caught-up) leader's FSM.
func (t *Table) serveLease(ctx context.Context, from transport.NodeID, regs []NameFence) leaseResponse {
	if err := t.verifyLeader(ctx); err != nil {
		return leaseResponse{Code: codeOf(err)}
	}
	if !t.leases.grant(from) {
		return leaseResponse{Code: codeNotLeader}
	}
	held := make([]bool, len(regs))
	for i, r := range regs {
		cur, ok := t.fsm.lookup(r.Name)
		held[i] = ok && cur.Fence == r.Fence
	}
	return leaseResponse{Held: held}
}

func (t *Table) handleLease(ctx context.Context, from transport.NodeID, body []byte) ([]byte, error) {
	var req leaseRequest
	if err := msgpack.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: %s from %s: %w", ErrBadRequest, MethodLease, from, err)
	}
	if len(req.Regs) > maxLeaseRegs {
		return nil, fmt.Errorf("%w: %s from %s: %d registrations", ErrBadRequest, MethodLease, from, len(req.Regs))
	}
	return msgpack.Marshal(t.serveLease(ctx, from, req.Regs))
}
