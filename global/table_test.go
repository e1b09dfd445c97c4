package global

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestClusterRegisterLeaderAndFollower(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 10*time.Second)
	leader, follower := c.tables[c.waitLeader()], c.tables[c.follower()]
	a, b := pid("n1", 11, 1), pid("n2", 22, 1)

	ra, err := leader.Register(ctx, "on-leader", a, []byte("meta"))
	if err != nil || ra.Fence == 0 || FenceIndex(ra.Fence) != ra.Index {
		t.Fatalf("register on leader: %+v %v", ra, err)
	}
	rb, err := follower.Register(ctx, "on-follower", b, nil)
	if err != nil || rb.Fence <= ra.Fence {
		t.Fatalf("register on follower: %+v %v", rb, err)
	}
	// A typed error survives forwarding.
	_, err = follower.Register(ctx, "on-leader", b, nil)
	var are *AlreadyRegisteredError
	if !errors.As(err, &are) || are.Owner != a || are.Fence != ra.Fence {
		t.Fatalf("duplicate via follower: %v", err)
	}
	if err := follower.Unregister(ctx, "on-leader", b); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("unregister by non-owner: %v", err)
	}
	// A consistent read on the follower sees the write at once.
	reg, info, err := follower.Lookup(ctx, "on-leader", Consistent)
	if err != nil || reg.Owner != a || string(reg.Meta) != "meta" || !info.Consistent || info.Index < ra.Index {
		t.Fatalf("consistent lookup: %+v %+v %v", reg, info, err)
	}
	// Every replica converges.
	for _, tb := range c.tables {
		waitFor(t, 5*time.Second, func() error {
			if tb.Count() != 2 {
				return fmt.Errorf("%s has %d names", tb.cfg.NodeID, tb.Count())
			}
			reg, _, err := tb.Lookup(ctx, "on-follower")
			if err != nil || reg.Fence != rb.Fence {
				return fmt.Errorf("%s: %+v %v", tb.cfg.NodeID, reg, err)
			}
			return nil
		})
		if got := tb.ByPID(a); len(got) != 1 || got[0].Name != "on-leader" {
			t.Fatalf("ByPID: %+v", got)
		}
		if got := tb.ByNode("n2"); len(got) != 1 || got[0].Name != "on-follower" {
			t.Fatalf("ByNode: %+v", got)
		}
	}
	list, _, err := follower.List(ctx, "on-", Consistent)
	if err != nil || len(list) != 2 || list[0].Name != "on-follower" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, _, err := follower.Lookup(ctx, "missing", Consistent); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	n, err := follower.UnregisterPID(ctx, a, ReasonProcessExit)
	if err != nil || n != 1 {
		t.Fatalf("unregister pid: %d %v", n, err)
	}
}

func TestClusterLeaderFailover(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 15*time.Second)
	old := c.waitLeader()
	if _, err := c.tables[c.follower()].Register(ctx, "before", pid("n1", 1, 1), nil); err != nil {
		t.Fatal(err)
	}
	c.stop(old)
	// Writes issued right away ride the hold window through the election.
	var writer *Table
	for i, tb := range c.tables {
		if i != old {
			writer = tb
		}
	}
	reg, err := writer.Register(ctx, "after", pid("n2", 2, 1), nil)
	if err != nil {
		t.Fatalf("write after leader loss: %v", err)
	}
	nl := c.waitLeader()
	if nl == old {
		t.Fatal("dead node still leader")
	}
	for _, name := range []string{"before", "after"} {
		if _, _, err := c.tables[nl].Lookup(ctx, name, Consistent); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if reg.Fence == 0 {
		t.Fatal("no fence")
	}
}

func TestClusterMinorityCannotWrite(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	survivor := c.follower()
	for i := range c.tables {
		if i != survivor {
			c.stop(i)
		}
	}
	start := time.Now()
	ctx := testCtx(t, 1500*time.Millisecond)
	_, err := c.tables[survivor].Register(ctx, "minority", pid("n1", 1, 1), nil)
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("minority register: %v", err)
	}
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Fatalf("returned after %v, deadline was 1.5s", el)
	}
	if _, _, err := c.tables[survivor].Lookup(ctx, "minority"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("name visible: %v", err)
	}
	_, info, _ := c.tables[survivor].Lookup(ctx, "minority")
	if !info.Stale {
		t.Fatalf("lone follower's read not marked stale: %+v", info)
	}
}

func TestClusterRestartKeepsNames(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 20*time.Second)
	rng := rand.New(rand.NewPCG(9, 9))
	want := map[string]uint64{}
	for i := range 50 {
		name := fmt.Sprintf("svc-%d", i)
		reg, err := c.tables[rng.IntN(3)].Register(ctx, name, pid("n1", 5, uint64(i+1)), nil)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = reg.Fence
	}
	// One follower down: it catches up from disk and the leader.
	f := c.follower()
	c.stop(f)
	if _, err := c.tables[c.waitLeader()].Register(ctx, "while-down", pid("n1", 5, 99), nil); err != nil {
		t.Fatal(err)
	}
	c.start(f)
	waitFor(t, 5*time.Second, func() error {
		_, _, err := c.tables[f].Lookup(ctx, "while-down")
		return err
	})
	// The whole cluster down and up.
	for i := range c.tables {
		c.stop(i)
	}
	for i := range c.tables {
		c.start(i)
	}
	c.waitLeader()
	for _, tb := range c.tables {
		waitFor(t, 5*time.Second, func() error {
			for name, fence := range want {
				reg, _, err := tb.Lookup(ctx, name)
				if err != nil || reg.Fence != fence {
					return fmt.Errorf("%s: %s: %+v %v", tb.cfg.NodeID, name, reg, err)
				}
			}
			return nil
		})
	}
	if !c.tables[0].HasState() {
		t.Fatal("restarted node reports no state")
	}
}

func TestClusterWatchResume(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 10*time.Second)
	w := c.tables[c.follower()]
	wctx, cancel := testCtxCancel(t)
	ch, err := w.Watch(wctx, "job/", 0)
	if err != nil {
		t.Fatal(err)
	}
	owner := pid("n1", 3, 1)
	r1, err := w.Register(ctx, "job/a", owner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Register(ctx, "other", owner, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Unregister(ctx, "job/a", owner); err != nil {
		t.Fatal(err)
	}
	got := recvEvents(t, ch, 2)
	if got[0].Type != EventRegistered || got[0].Fence != r1.Fence || got[1].Type != EventUnregistered || got[1].Reason != ReasonUnregister {
		t.Fatalf("events: %+v", got)
	}
	cancel()
	waitClosed(t, ch)
	// Missed while not watching, then resumed from the last seen index.
	if _, err := w.Register(ctx, "job/b", owner, nil); err != nil {
		t.Fatal(err)
	}
	ch, err = w.Watch(ctx, "job/", got[1].Index+1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recvEvents(t, ch, 1); ev[0].Name != "job/b" || ev[0].Type != EventRegistered {
		t.Fatalf("resumed: %+v", ev)
	}
}

// A leader cut off from its followers cannot commit: the write fails, and
// since the entry was appended to the deposed leader's log its fate is
// reported as unknown, never as success.
func TestClusterIsolatedLeaderCannotWrite(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	l := c.waitLeader()
	for i := range c.tables {
		if i != l {
			c.stop(i)
		}
	}
	ctx := testCtx(t, 1500*time.Millisecond)
	_, err := c.tables[l].Register(ctx, "isolated", pid("n1", 1, 1), nil)
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("isolated leader register: %v", err)
	}
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Logf("write failed before reaching raft's log: %v", err)
	}
	if _, _, err := c.tables[l].Lookup(ctx, "isolated"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("name visible: %v", err)
	}
}
