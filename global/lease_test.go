package global

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestLeaseRenewal: a renewal from a follower and from the leader is
// granted by the leader, which records when; it reports which
// registrations are still current by the leader's FSM; a follower has no
// grants to report; a minority cannot renew.
func TestLeaseRenewal(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 15*time.Second)
	li := c.waitLeader()
	leader := c.tables[li]
	fi := c.follower()
	follower := c.tables[fi]
	old, err := leader.Register(ctx, "lease/a", pid("n1", 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Unregister(ctx, "lease/a", old.Owner); err != nil {
		t.Fatal(err)
	}
	cur, err := leader.Register(ctx, "lease/a", pid("n1", 1, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	g, err := follower.RenewLease(ctx, []NameFence{{"lease/a", old.Fence}, {"lease/a", cur.Fence}, {"lease/none", 7}})
	if err != nil {
		t.Fatalf("follower renewal: %v", err)
	}
	if g.Sent.Before(before) || len(g.Held) != 3 || g.Held[0] || !g.Held[1] || g.Held[2] {
		t.Fatalf("grant %+v: want held [false true false]", g)
	}
	at, ok := leader.LastLeaseGrant(follower.cfg.NodeID)
	if !ok || at.Before(g.Sent) {
		t.Fatalf("leader's grant time %v (ok %v) is before the renewal was sent (%v)", at, ok, g.Sent)
	}
	if _, ok := follower.LastLeaseGrant(follower.cfg.NodeID); ok {
		t.Fatal("a follower reported lease grants")
	}
	// A node that never renewed: the leader's leadership start stands in.
	if at, ok := leader.LastLeaseGrant("never"); !ok || at.IsZero() || at.After(time.Now()) {
		t.Fatalf("grant of a node that never renewed: %v %v", at, ok)
	}
	if _, err := leader.RenewLease(ctx, nil); err != nil {
		t.Fatalf("leader's own renewal: %v", err)
	}
	// Cut the follower's peers: it cannot renew.
	for i := range c.tables {
		if i != fi {
			c.stop(i)
		}
	}
	short := testCtx(t, 2*time.Second)
	if _, err := follower.RenewLease(short, nil); err == nil {
		t.Fatal("a follower without a quorum renewed its lease")
	} else if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrOutcomeUnknown) {
		t.Logf("renewal without quorum: %v", err)
	}
}

// TestLeaseRequestBounds: oversized or malformed renewals are refused
// with ErrBadRequest and do not grant anything.
func TestLeaseRequestBounds(t *testing.T) {
	c := newTestCluster(t, 1, hclog.Info)
	ctx := testCtx(t, 10*time.Second)
	tb := c.tables[c.waitLeader()]
	if _, err := tb.HandleRPC(ctx, "peer", MethodLease, []byte{0xc1}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("malformed renewal: %v", err)
	}
	if _, err := tb.RenewLease(ctx, make([]NameFence, maxLeaseRegs+1)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("oversized renewal: %v", err)
	}
	tb.leases.mu.Lock()
	_, granted := tb.leases.granted["peer"]
	tb.leases.mu.Unlock()
	if granted {
		t.Fatal("a malformed renewal granted a lease")
	}
}
