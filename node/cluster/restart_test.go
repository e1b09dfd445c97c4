package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
)

// ports returns the gossip, transport and raft ports nd listens on, so a
// restart can reuse them (Raft's stored configuration names addresses).
func ports(t *testing.T, nd *Node) func(*Config) {
	t.Helper()
	port := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	g, tr, r := port(nd.ml.Addr()), port(advertised(nd.tr)), port(nd.table.RaftAddr())
	return func(c *Config) { c.GossipPort, c.TransportPort, c.RaftPort = g, tr, r }
}

func TestClusterNodeRestartKeepsNewNamesAndPurgesOld(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := startClusterIn(t, dirs, nil)
	a, c := nodes[0], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, _ := spawnReceiver(t, c)
	old, err := c.RegisterGlobal(ctx, "old", pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	keep := ports(t, c)
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Restart at once, same data dir and ports, new incarnation.
	c2 := newClusterNode(t, "n3", dirs[2], 3, keep)
	if c2.Incarnation() == old.Owner.Incarnation {
		t.Fatal("restart reused the incarnation")
	}
	if _, err := c2.Join(ctx, []string{a.ml.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, c2)
	p2, _ := spawnReceiver(t, c2)
	if _, err := c2.RegisterGlobal(ctx, "new", p2, nil); err != nil {
		t.Fatalf("register on the restarted node: %v", err)
	}
	pollFor(t, 15*time.Second, nameGoneEverywhere("old", a, c2))
	// The new incarnation's name survives the purge and a reconcile.
	st, _ := a.Status()
	for _, nd := range []*Node{a, c2} {
		pollFor(t, 5*time.Second, func() error {
			r, _, err := nd.LookupGlobal(ctx, "new")
			if err != nil || r.Owner != p2 {
				return fmt.Errorf("%s: new = %+v, %v", nd.ID(), r, err)
			}
			return nil
		})
	}
	t.Logf("purges on a: %v", st.Stats.PurgesByReason)
}

func TestClusterWholeRestartKeepsCommittedNames(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := startClusterIn(t, dirs, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const names = 50
	for i := 0; i < names; i++ {
		nd := nodes[i%3]
		pid, _ := spawnReceiver(t, nd)
		if _, err := nd.RegisterGlobal(ctx, fmt.Sprintf("name-%d", i), pid, nil); err != nil {
			t.Fatal(err)
		}
	}
	var tunes []func(*Config)
	for _, nd := range nodes {
		tunes = append(tunes, ports(t, nd))
	}
	for _, nd := range nodes {
		if err := nd.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	again := startClusterIn(t, dirs, tunes)
	// Every committed name came back from disk, then went because its
	// owner's incarnation no longer exists: the replayed history shows
	// each name registered and then purged with reason "restart".
	evs, err := again[1].WatchGlobal(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	registered, purged := map[string]bool{}, map[string]bool{}
	for len(purged) < names {
		select {
		case ev := <-evs:
			switch {
			case ev.Type == global.EventRegistered:
				registered[ev.Name] = true
			case ev.Type == global.EventUnregistered && ev.Reason == global.ReasonRestart && registered[ev.Name]:
				purged[ev.Name] = true
			case ev.Type == global.EventError:
				t.Fatalf("watch: %v", ev.Err)
			}
		case <-ctx.Done():
			t.Fatalf("saw %d registered and %d purged of %d names", len(registered), len(purged), names)
		}
	}
	if len(registered) != names {
		t.Fatalf("history has %d registrations, want %d", len(registered), names)
	}
	for _, nd := range again {
		pollFor(t, 10*time.Second, func() error {
			if n := nd.GlobalTable().Count(); n != 0 {
				return fmt.Errorf("%s still has %d names of dead incarnations", nd.ID(), n)
			}
			return nil
		})
	}
	_, _, err = again[0].LookupGlobal(ctx, "name-0")
	if !errors.Is(err, global.ErrNotFound) {
		t.Fatalf("name-0 after purge: %v", err)
	}
}

// A node restarted with its data dir but new ports (a new address) is
// taken back by gossip once its old self is dead, Raft learns its new
// address, and its old incarnation's names go.
func TestClusterNodeRestartAtNewAddress(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := startClusterIn(t, dirs, nil)
	a, c := nodes[0], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pc, _ := spawnReceiver(t, c)
	if _, err := c.RegisterGlobal(ctx, "moved", pc, nil); err != nil {
		t.Fatal(err)
	}
	oldRaft := c.GlobalTable().RaftAddr()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := newClusterNode(t, "n3", dirs[2], 3, nil) // fresh ports
	if c2.GlobalTable().RaftAddr() == oldRaft {
		t.Skip("the OS handed out the same raft port again")
	}
	if _, err := c2.Join(ctx, []string{a.GossipAddr()}); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 30*time.Second, func() error {
		servers, err := a.GlobalTable().Configuration()
		if err != nil {
			return err
		}
		for _, s := range servers {
			if s.ID == "n3" && s.Address == c2.GlobalTable().RaftAddr() {
				return nil
			}
		}
		return fmt.Errorf("raft configuration still has n3 at its old address: %+v", servers)
	})
	waitHealthy(t, c2)
	pollFor(t, 10*time.Second, nameGoneEverywhere("moved", a, c2))
	p2, _ := spawnReceiver(t, c2)
	if _, err := c2.RegisterGlobal(ctx, "moved", p2, nil); err != nil {
		t.Fatalf("register after moving: %v", err)
	}
}

// Raft state is tied to the node id that created it: a data dir cannot be
// reused under another id.
func TestClusterDataDirBelongsToOneNode(t *testing.T) {
	dir := t.TempDir()
	nd := newClusterNode(t, "owner", dir, 1, nil)
	if err := nd.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.NodeID = "impostor"
	if _, err := New(cfg); !errors.Is(err, ErrDataDirOwner) {
		t.Fatalf("New with another node's data dir: %v", err)
	}
	// The rightful owner still starts from it.
	again := newClusterNode(t, "owner", dir, 1, nil)
	waitHealthy(t, again)
}
