package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

type purgeCall struct {
	node node.NodeID
	inc  uint64 // PurgeIncarnation: the purged one; PurgeNodeExcept: the kept one
	why  global.Reason
}

// fakeTable is an in-memory Table: a raft configuration, a leader flag and
// a set of name owners.
type fakeTable struct {
	mu        sync.Mutex
	leader    bool
	state     bool
	boot      []global.Server
	servers   []global.Server
	owners    map[node.NodeID][]uint64
	purges    []purgeCall
	removed   []node.NodeID
	hooksGone []purgeCall
	purgedInc map[purgeKey]bool
	revived   []purgeKey
}

func (f *fakeTable) HasState() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.state }
func (f *fakeTable) Bootstrap(s []global.Server) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state {
		return fmt.Errorf("already has state")
	}
	f.state, f.boot, f.servers = true, s, append([]global.Server(nil), s...)
	return nil
}
func (f *fakeTable) IsLeader() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.leader }
func (f *fakeTable) Configuration() ([]global.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]global.Server(nil), f.servers...), nil
}
func (f *fakeTable) add(id node.NodeID, addr string, voter bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.servers {
		if s.ID == id {
			f.servers[i] = global.Server{ID: id, Address: addr, Nonvoter: !voter && s.Nonvoter}
			return nil
		}
	}
	f.servers = append(f.servers, global.Server{ID: id, Address: addr, Nonvoter: !voter})
	return nil
}
func (f *fakeTable) AddVoter(_ context.Context, id node.NodeID, addr string) error {
	return f.add(id, addr, true)
}
func (f *fakeTable) AddNonvoter(_ context.Context, id node.NodeID, addr string) error {
	return f.add(id, addr, false)
}
func (f *fakeTable) RemoveServer(_ context.Context, id node.NodeID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	for i, s := range f.servers {
		if s.ID == id {
			f.servers = append(f.servers[:i], f.servers[i+1:]...)
			break
		}
	}
	return nil
}
func (f *fakeTable) PurgeIncarnation(_ context.Context, n node.NodeID, inc uint64, why global.Reason) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purges = append(f.purges, purgeCall{n, inc, why})
	var keep []uint64
	for _, i := range f.owners[n] {
		if i != inc {
			keep = append(keep, i)
		}
	}
	removed := len(f.owners[n]) - len(keep)
	f.owners[n] = keep
	if len(keep) == 0 {
		delete(f.owners, n)
	}
	return removed, nil
}
func (f *fakeTable) PurgeNodeExcept(_ context.Context, n node.NodeID, keep uint64, why global.Reason) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purges = append(f.purges, purgeCall{n, keep, why})
	removed := 0
	var left []uint64
	for _, i := range f.owners[n] {
		if i == keep {
			left = append(left, i)
		} else {
			removed++
		}
	}
	f.owners[n] = left
	return removed, nil
}

// Owners returns the (node, incarnation) owners, sorted.
func (f *fakeTable) Owners() map[node.NodeID][]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[node.NodeID][]uint64)
	for id, incs := range f.owners {
		if len(incs) > 0 {
			out[id] = slices.Sorted(slices.Values(incs))
		}
	}
	return out
}
func (f *fakeTable) IsPurged(n node.NodeID, inc uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.purgedInc[purgeKey{n, inc}]
}
func (f *fakeTable) ReviveIncarnation(_ context.Context, n node.NodeID, inc uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.purgedInc, purgeKey{n, inc})
	f.revived = append(f.revived, purgeKey{n, inc})
	return true, nil
}
func (f *fakeTable) LastLeaseGrant(node.NodeID) (time.Time, bool) { return time.Time{}, false }
func (f *fakeTable) PeerAlive(membership.Meta)                    {}
func (f *fakeTable) LastContact(node.NodeID) (time.Time, bool)    { return time.Time{}, false }
func (f *fakeTable) PeerGone(id node.NodeID, inc uint64, dead bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooksGone = append(f.hooksGone, purgeCall{node: id, inc: inc})
}
func (f *fakeTable) purgeLog() []purgeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]purgeCall(nil), f.purges...)
}

type testNode struct {
	m     *membership.Membership
	c     *controller
	table *fakeTable
}

func startNode(t *testing.T, id string, inc uint64, expect int, table *fakeTable, tune func(*controllerConfig)) *testNode {
	t.Helper()
	cfg := membership.DefaultConfig()
	cfg.Memberlist, cfg.RejoinInterval = ProfileFast.memberlist(), ProfileFast.timings().rejoin
	cfg.Logger = testLogger(t)
	cfg.Meta = membership.Meta{Cluster: "c1", Node: node.NodeID(id), Incarnation: inc,
		Transport: "127.0.0.1:1", Raft: "raft-" + id, Role: membership.RoleServer, Expect: expect, HasState: table.HasState()}
	m, err := membership.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cc := controllerConfig{Self: cfg.Meta.Node, Profile: ProfileFast, Expect: expect, Table: table, Hooks: table, Logger: cfg.Logger,
		ReconcileGrace: 300 * time.Millisecond, ReconcileInterval: 200 * time.Millisecond}
	if tune != nil {
		tune(&cc)
	}
	c, err := newController(m, cc)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	n := &testNode{m: m, c: c, table: table}
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *testNode) stop() { n.c.Stop(); n.m.Shutdown(context.Background()) }

func joinAll(t *testing.T, seed *testNode, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		if _, err := n.m.Join(context.Background(), []string{seed.m.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBootstrapExpectFormsOneConfiguration(t *testing.T) {
	var nodes []*testNode
	for _, id := range []string{"c", "a", "b", "d"} {
		nodes = append(nodes, startNode(t, id, 1, 3, &fakeTable{owners: map[node.NodeID][]uint64{}}, nil))
	}
	joinAll(t, nodes[0], nodes[1:]...)
	waitFor(t, 10*time.Second, func() error {
		for _, n := range nodes[:3] {
			if !n.table.HasState() {
				return fmt.Errorf("%s not bootstrapped", n.m.Meta().Node)
			}
		}
		return nil
	})
	want := "a:raft-a,b:raft-b,c:raft-c"
	for _, n := range nodes {
		n.table.mu.Lock()
		var got []string
		for _, s := range n.table.boot {
			if s.Nonvoter {
				t.Errorf("bootstrap server %s is not a voter", s.ID)
			}
			got = append(got, fmt.Sprintf("%s:%s", s.ID, s.Address))
		}
		n.table.mu.Unlock()
		sort.Strings(got)
		if id := n.m.Meta().Node; id == "d" {
			if len(got) != 0 {
				t.Errorf("d (fourth server) bootstrapped with %v", got)
			}
		} else if g := fmt.Sprint(got); g != fmt.Sprint([]string{"a:raft-a", "b:raft-b", "c:raft-c"}) {
			t.Errorf("%s bootstrapped with %v, want %s", id, g, want)
		}
	}
}

func TestLeaderPurgesDeadLeftAndRestartedNodes(t *testing.T) {
	lt := &fakeTable{leader: true, state: true, owners: map[node.NodeID][]uint64{
		"b": {11}, "c": {21}, "d": {31}, "ghost": {99}, "a": {1, 2}}}
	a := startNode(t, "a", 2, 3, lt, nil)
	b := startNode(t, "b", 11, 3, &fakeTable{state: true}, nil)
	c := startNode(t, "c", 21, 3, &fakeTable{state: true}, nil)
	d := startNode(t, "d", 31, 3, &fakeTable{state: true}, nil)
	joinAll(t, a, b, c, d)
	waitFor(t, 5*time.Second, func() error {
		if n := a.m.NumAlive(); n != 4 {
			return fmt.Errorf("%d alive", n)
		}
		return nil
	})
	has := func(want purgeCall) func() error {
		return func() error {
			for _, p := range lt.purgeLog() {
				if p == want {
					return nil
				}
			}
			return fmt.Errorf("no purge %+v in %+v", want, lt.purgeLog())
		}
	}
	// Reconcile: a never-seen node and this node's own old incarnation.
	waitFor(t, 5*time.Second, has(purgeCall{"ghost", 99, global.ReasonNodeDown}))
	waitFor(t, 5*time.Second, has(purgeCall{"a", 1, global.ReasonRestart}))

	// Graceful leave: purged at once, and removed from raft.
	if err := c.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.stop()
	waitFor(t, 5*time.Second, has(purgeCall{"c", 21, global.ReasonNodeLeft}))

	// Death: purged after detection and the grace.
	start := time.Now()
	b.stop()
	waitFor(t, 15*time.Second, has(purgeCall{"b", 11, global.ReasonNodeDown}))
	t.Logf("silent stop of b → purge after %v (fast profile)", time.Since(start))

	// Restart of d with a new incarnation at a new port, before anyone saw
	// it die: the old incarnation's names go at once.
	d.stop()
	d2 := startNode(t, "d", 32, 3, &fakeTable{state: true}, nil)
	joinAll(t, a, d2)
	waitFor(t, 15*time.Second, func() error {
		for _, p := range lt.purgeLog() {
			if p.node == "d" && p.inc == 31 && (p.why == global.ReasonRestart || p.why == global.ReasonNodeDown) {
				return nil
			}
		}
		return fmt.Errorf("d's old incarnation not purged: %+v", lt.purgeLog())
	})
	for _, p := range lt.purgeLog() {
		if p.node == "d" && p.inc == 32 {
			t.Fatalf("purged d's live incarnation: %+v", p)
		}
	}
}

// TestLeaderKeepsIncarnationsGossipNeverShowedReplaced is the regression
// test for a restarted node's fresh names purged by a leader with a stale
// gossip view: peer b alive at incarnation A (gossip's view), owners {A, B}
// in the table: B may be b's newer incarnation gossip has not reported, so
// it survives every reconcile. Once gossip shows A replaced by C, A goes
// (restart), and B still stays while b is alive.
func TestLeaderKeepsIncarnationsGossipNeverShowedReplaced(t *testing.T) {
	const incA, incB, incC = 41, 42, 43
	lt := &fakeTable{leader: true, state: true, owners: map[node.NodeID][]uint64{"b": {incA, incB}}}
	a := startNode(t, "a", 1, 3, lt, func(c *controllerConfig) { c.UnseenGrace = time.Minute })
	b := startNode(t, "b", incA, 3, &fakeTable{state: true}, nil)
	joinAll(t, a, b)
	waitFor(t, 5*time.Second, func() error {
		if n := a.m.NumAlive(); n != 2 {
			return fmt.Errorf("%d alive", n)
		}
		return nil
	})
	// Several reconciles (every 200 ms, after the 300 ms grace).
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, p := range lt.purgeLog() {
			if p.node == "b" {
				t.Fatalf("purged an incarnation of b while gossip shows it alive at %d: %+v", incA, p)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.stop()
	b2 := startNode(t, "b", incC, 3, &fakeTable{state: true}, nil)
	joinAll(t, a, b2)
	waitFor(t, 10*time.Second, func() error {
		for _, p := range lt.purgeLog() {
			if p.node == "b" && p.inc == incA {
				return nil
			}
		}
		return fmt.Errorf("b's replaced incarnation %d not purged: %+v", incA, lt.purgeLog())
	})
	deadline = time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		for _, p := range lt.purgeLog() {
			if p.node == "b" && p.inc == incB {
				t.Fatalf("purged b's incarnation %d, which gossip never showed replaced: %+v", p.inc, lt.purgeLog())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node whose incarnation was purged while it was unreachable, and that
// is alive again with that incarnation, is revived by the leader.
func TestLeaderRevivesPurgedIncarnationThatIsAlive(t *testing.T) {
	lt := &fakeTable{leader: true, state: true, owners: map[node.NodeID][]uint64{},
		purgedInc: map[purgeKey]bool{{"b", 5}: true, {"gone", 9}: true}}
	a := startNode(t, "a", 1, 3, lt, nil)
	b := startNode(t, "b", 5, 3, &fakeTable{state: true}, nil)
	joinAll(t, a, b)
	waitFor(t, 5*time.Second, func() error {
		if lt.IsPurged("b", 5) {
			return fmt.Errorf("b/5 still purged")
		}
		return nil
	})
	if !lt.IsPurged("gone", 9) {
		t.Fatal("revived an incarnation nobody has seen alive")
	}
}

// Servers beyond bootstrap-expect join the Raft configuration as
// non-voters; a server whose address changed is re-added at the new one.
func TestLeaderAddsExtraServersAsNonvoters(t *testing.T) {
	lt := &fakeTable{leader: true, state: true, owners: map[node.NodeID][]uint64{},
		servers: []global.Server{{ID: "a", Address: "raft-a"}, {ID: "b", Address: "raft-b"}, {ID: "c", Address: "old-addr"}}}
	a := startNode(t, "a", 1, 3, lt, nil)
	b := startNode(t, "b", 1, 3, &fakeTable{state: true}, nil)
	c := startNode(t, "c", 1, 3, &fakeTable{state: true}, nil)
	d := startNode(t, "d", 1, 3, &fakeTable{}, nil)
	joinAll(t, a, b, c, d)
	waitFor(t, 10*time.Second, func() error {
		got := map[node.NodeID]global.Server{}
		servers, _ := lt.Configuration()
		for _, s := range servers {
			got[s.ID] = s
		}
		if s := got["d"]; s.ID != "d" || !s.Nonvoter || s.Address != "raft-d" {
			return fmt.Errorf("d not a non-voter at raft-d: %+v", servers)
		}
		if s := got["c"]; s.Address != "raft-c" || s.Nonvoter {
			return fmt.Errorf("c not re-added at its new address: %+v", servers)
		}
		return nil
	})
}

// hintTable adds the transport's break time (LastContact) to fakeTable.
type hintTable struct {
	*fakeTable
	mu      sync.Mutex
	broke   map[node.NodeID]time.Time
	verdict map[node.NodeID]time.Time
	purged  map[node.NodeID]time.Time
}

func (h *hintTable) LastContact(id node.NodeID) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.broke[id]
	return t, ok
}

func (h *hintTable) PeerGone(id node.NodeID, inc uint64, dead bool) {
	h.mu.Lock()
	h.verdict[id] = time.Now()
	h.mu.Unlock()
	h.fakeTable.PeerGone(id, inc, dead)
}

func (h *hintTable) PurgeIncarnation(ctx context.Context, n node.NodeID, inc uint64, why global.Reason) (int, error) {
	h.mu.Lock()
	h.purged[n] = time.Now()
	h.mu.Unlock()
	return h.fakeTable.PurgeIncarnation(ctx, n, inc, why)
}

// A transport break before gossip's verdict starts the purge grace early,
// but nothing is purged before gossip has declared the node dead.
func TestTransportBreakStartsPurgeGraceEarly(t *testing.T) {
	const grace = 3 * time.Second
	lt := &hintTable{fakeTable: &fakeTable{leader: true, state: true, owners: map[node.NodeID][]uint64{"b": {2}}},
		broke: map[node.NodeID]time.Time{}, verdict: map[node.NodeID]time.Time{}, purged: map[node.NodeID]time.Time{}}
	cfg := membership.DefaultConfig()
	cfg.Memberlist, cfg.RejoinInterval = ProfileFast.memberlist(), ProfileFast.timings().rejoin
	cfg.Logger = testLogger(t)
	cfg.Meta = membership.Meta{Cluster: "c1", Node: "a", Incarnation: 1, Transport: "t", Raft: "raft-a", Role: membership.RoleServer, Expect: 1, HasState: true}
	m, err := membership.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	c, err := newController(m, controllerConfig{Self: "a", Profile: ProfileFast, Expect: 1, Table: lt, Hooks: lt, Logger: cfg.Logger,
		PurgeGrace: grace, ReconcileInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(c.Stop)
	b := startNode(t, "b", 2, 1, &fakeTable{state: true}, nil)
	if _, err := b.m.Join(context.Background(), []string{m.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if m.NumAlive() != 2 {
			return fmt.Errorf("%d alive", m.NumAlive())
		}
		return nil
	})
	broke := time.Now()
	lt.mu.Lock()
	lt.broke["b"] = broke
	lt.mu.Unlock()
	b.stop()
	waitFor(t, 15*time.Second, func() error {
		lt.mu.Lock()
		defer lt.mu.Unlock()
		if _, ok := lt.purged["b"]; !ok {
			return fmt.Errorf("b not purged yet")
		}
		return nil
	})
	lt.mu.Lock()
	verdict, purged := lt.verdict["b"], lt.purged["b"]
	lt.mu.Unlock()
	if purged.Before(verdict) {
		t.Fatalf("purged %v before gossip's verdict", verdict.Sub(purged))
	}
	if purged.Sub(broke) < grace-tick {
		t.Fatalf("purged %v after the break, grace is %v", purged.Sub(broke), grace)
	}
	if verdict.Sub(broke) > tick && purged.Sub(verdict) >= grace {
		t.Fatalf("the grace counted from the verdict (%v after it), not from the break", purged.Sub(verdict))
	}
	t.Logf("break → verdict %v → purge %v", verdict.Sub(broke), purged.Sub(broke))
}
