package membership

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/roster-dev/roster/transport"
)

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: hclog.DefaultOutput, Level: hclog.Off})
}

func start(t *testing.T, id, cluster string, key []byte) *Membership {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Memberlist, cfg.RejoinInterval = fastMemberlist(), time.Second
	cfg.Key = key
	cfg.Logger = testLogger(t)
	cfg.Meta = Meta{Cluster: cluster, Node: transport.NodeID(id), Incarnation: 7,
		Transport: "127.0.0.1:1", Raft: "127.0.0.1:2", Role: RoleServer}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// fastMemberlist is memberlist's local config tightened for tests on one
// host (the clustered node's fast profile, node/cluster/profile.go, has
// the production numbers).
func fastMemberlist() *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.ProbeInterval, c.ProbeTimeout = 250*time.Millisecond, 150*time.Millisecond
	c.SuspicionMult, c.SuspicionMaxTimeoutMult = 3, 4
	c.GossipInterval, c.PushPullInterval = 50*time.Millisecond, 5*time.Second
	return c
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aliveIDs(m *Membership) map[transport.NodeID]State {
	out := map[transport.NodeID]State{}
	for _, mem := range m.Members() {
		out[mem.Meta.Node] = mem.State
	}
	return out
}

func nextEvent(t *testing.T, m *Membership, want EventType, node string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatal("events closed")
			}
			t.Logf("event %s %s %s", ev.Type, ev.Member.Meta.Node, ev.Member.State)
			if ev.Type == want && string(ev.Member.Meta.Node) == node {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", want, node)
		}
	}
}

func TestJoinMetaLeaveAndDeath(t *testing.T) {
	a := start(t, "a", "c1", nil)
	b := start(t, "b", "c1", nil)
	c := start(t, "c", "c1", nil)
	ctx := context.Background()
	for _, m := range []*Membership{b, c} {
		if _, err := m.Join(ctx, []string{a.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, func() error {
		for _, m := range []*Membership{a, b, c} {
			if n := m.NumAlive(); n != 3 {
				return fmt.Errorf("%s sees %d alive", m.Meta().Node, n)
			}
		}
		return nil
	})
	mem, ok := a.Member("b")
	if !ok || mem.Meta.Raft != "127.0.0.1:2" || mem.Meta.Incarnation != 7 || mem.Meta.Role != RoleServer {
		t.Fatalf("a's view of b: %+v %v", mem, ok)
	}

	if err := c.UpdateMeta(ctx, func(m *Meta) { m.HasState = true }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if mem, _ := a.Member("c"); !mem.Meta.HasState {
			return errors.New("update not seen")
		}
		return nil
	})

	// Graceful leave is a leave event, not a death.
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, a, EventLeave, "c")
	c.Shutdown(context.Background())

	// A silent stop is a death.
	start := time.Now()
	b.Shutdown(context.Background())
	ev := nextEvent(t, a, EventDead, "b")
	t.Logf("fast profile detected death in %v", ev.At.Sub(start))
}

func TestWrongClusterAndWrongKeyCannotJoin(t *testing.T) {
	key1 := []byte("0123456789abcdef0123456789abcdef")
	key2 := []byte("fedcba9876543210fedcba9876543210")
	a := start(t, "a", "c1", key1)
	other := start(t, "x", "c2", key1)
	wrongKey := start(t, "y", "c1", key2)
	plain := start(t, "z", "c1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range []*Membership{other, wrongKey, plain} {
		if _, err := m.Join(ctx, []string{a.Addr()}); err == nil {
			t.Errorf("%s joined a cluster it does not belong to", m.Meta().Node)
		}
	}
	if n := a.NumAlive(); n != 1 {
		t.Fatalf("a has %d members, want only itself", n)
	}
	good := start(t, "b", "c1", key1)
	if _, err := good.Join(ctx, []string{a.Addr()}); err != nil {
		t.Fatalf("right key and cluster: %v", err)
	}
}

func TestMetaLimits(t *testing.T) {
	m := Meta{Cluster: "c", Node: "n", Incarnation: 1, Transport: string(make([]byte, 600))}
	if _, err := m.encode(); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("oversize meta: %v", err)
	}
	for _, b := range [][]byte{nil, {0xc1}, {0x80}} {
		if _, err := decodeMeta(b); !errors.Is(err, ErrBadMeta) {
			t.Errorf("decodeMeta(%x) = %v, want ErrBadMeta", b, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Meta = Meta{Cluster: "c", Node: "n", Incarnation: 1}
	cfg.Key = []byte("short")
	if _, err := New(cfg); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
}

// A second live node claiming a name already in the cluster is refused
// (memberlist's conflict: the first holder keeps the name until it is dead).
func TestDuplicateNodeNameRefused(t *testing.T) {
	a := start(t, "a", "c1", nil)
	b := start(t, "b", "c1", nil)
	if _, err := b.Join(context.Background(), []string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if a.NumAlive() != 2 {
			return fmt.Errorf("a sees %d", a.NumAlive())
		}
		return nil
	})
	impostor := start(t, "b", "c1", nil)
	_, _ = impostor.Join(context.Background(), []string{a.Addr()})
	// Give gossip time to spread the impostor's claim, then check that a
	// still holds the original b's address.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		mem, ok := a.Member("b")
		if !ok || mem.Addr != b.Addr() {
			t.Fatalf("a's b is now %+v (original at %s, impostor at %s)", mem, b.Addr(), impostor.Addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
