package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/internal/testhook"
)

// startCluster starts n clustered nodes on loopback with the fast profile
// and waits until they agree on a leader.
func startCluster(t testing.TB, n int) []*Node {
	t.Helper()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	return startClusterIn(t, dirs, nil)
}

// startClusterIn starts one node n1, n2, ... per data dir (tunes[i], if
// any, adjusts node i's config), joins them to n1 and waits for a leader.
func startClusterIn(t testing.TB, dirs []string, tunes []func(*Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for i, dir := range dirs {
		var tune func(*Config)
		if i < len(tunes) {
			tune = tunes[i]
		}
		nodes = append(nodes, newClusterNode(t, fmt.Sprintf("n%d", i+1), dir, len(dirs), tune))
	}
	for _, nd := range nodes[1:] {
		if _, err := nd.Join(context.Background(), []string{nodes[0].GossipAddr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitHealthy(t, nodes...)
	return nodes
}

func newClusterNode(t testing.TB, id, dir string, expect int, tune func(*Config)) *Node {
	t.Helper()
	return newClusterNodeWith(t, id, dir, expect, tune, testhook.Cluster{})
}

// newClusterNodeWith is newClusterNode with test seams.
func newClusterNodeWith(t testing.TB, id, dir string, expect int, tune func(*Config), hooks testhook.Cluster) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Profile, cfg.BootstrapExpect = dir, ProfileFast, expect
	cfg.NodeID = node.NodeID(id)
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Off})
	if tune != nil {
		tune(&cfg)
	}
	nd, err := newNode(cfg, hooks)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	if err := nd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = nd.Shutdown(ctx)
	})
	return nd
}

func waitHealthy(t testing.TB, nodes ...*Node) {
	t.Helper()
	pollFor(t, 15*time.Second, func() error {
		for _, nd := range nodes {
			if !nd.Healthy() {
				st, _ := nd.Status()
				return fmt.Errorf("%s not healthy: state %s leader %q", nd.ID(), st.RaftState, st.Leader)
			}
		}
		return nil
	})
}

// pollFor is waitFor with a deadline of d.
func pollFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	waitFor(t, d, cond)
}

func spawnReceiver(t testing.TB, nd *Node) (node.PID, chan node.Message) {
	t.Helper()
	got := make(chan node.Message, 16)
	pid, err := nd.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return err
			}
			got <- m
			if m.Body == "stop" {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid, got
}

// skipSuspicion passes on the messages of got but GlobalNameSuspect and
// GlobalNameConfirmed, which a loaded machine (a follower that misses
// heartbeats for longer than the fast profile's grace) may deliver first.
func skipSuspicion(got chan node.Message) <-chan node.Message {
	out := make(chan node.Message, 1)
	go func() {
		for m := range got {
			switch m.Body.(type) {
			case GlobalNameSuspect, GlobalNameConfirmed:
				continue
			}
			out <- m
			return
		}
	}()
	return out
}

func nameGoneEverywhere(name string, nodes ...*Node) func() error {
	return func() error {
		for _, nd := range nodes {
			if _, _, err := nd.LookupGlobal(context.Background(), name); !errors.Is(err, global.ErrNotFound) {
				return fmt.Errorf("%s still resolves %q (err %v)", nd.ID(), name, err)
			}
		}
		return nil
	}
}

func TestClusterGlobalNamesSendAndExit(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pid, got := spawnReceiver(t, c)
	reg, err := c.RegisterGlobal(ctx, "svc", pid, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Fence == 0 || reg.Owner != pid {
		t.Fatalf("registration %+v", reg)
	}
	// Taken: the owner comes back in the error, from any node.
	other, _ := spawnReceiver(t, a)
	var already *global.AlreadyRegisteredError
	if _, err := a.RegisterGlobal(ctx, "svc", other, nil); !errors.As(err, &already) || already.Owner != pid {
		t.Fatalf("second register: %v", err)
	}
	// Foreign and dead pids are refused.
	if _, err := a.RegisterGlobal(ctx, "x", pid, nil); !errors.Is(err, node.ErrNotLocal) {
		t.Fatalf("foreign pid: %v", err)
	}

	// Send by global name from another node reaches the owner.
	pollFor(t, 5*time.Second, func() error {
		_, _, err := b.LookupGlobal(ctx, "svc")
		return err
	})
	if err := b.Send(ctx, node.Global("svc"), "hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-skipSuspicion(got):
		var s string
		if err := m.Decode(&s); err != nil || s != "hello" {
			t.Fatalf("got %+v (%v)", m, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message by global name not delivered")
	}
	// A consistent lookup agrees.
	r, info, err := a.LookupGlobal(ctx, "svc", global.Consistent)
	if err != nil || r.Owner != pid || !info.Consistent {
		t.Fatalf("consistent lookup: %+v %+v %v", r, info, err)
	}

	// b monitors the global name: DOWN comes when its owner exits.
	watcher, downs := spawnReceiver(t, b)
	if _, err := b.Monitor(watcher, node.Global("svc")); err != nil {
		t.Fatal(err)
	}

	// The process exits: its name goes from every replica.
	if err := c.Send(ctx, pid, "stop"); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 5*time.Second, nameGoneEverywhere("svc", a, b, c))
	select {
	case m := <-downs:
		// The monitor signal and "stop" travel on different paths, so the
		// owner may exit before the monitor reaches it: then, as in
		// Erlang, the reason is noproc.
		if d, ok := m.Body.(node.Down); !ok || d.PID != pid || !(errors.Is(d.Reason, node.Normal) || errors.Is(d.Reason, node.NoProc)) {
			t.Fatalf("want node.Down(normal) for %s, got %#v (%v)", pid, m.Body, m.Body.(node.Down).Reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DOWN for the global name's owner")
	}
}

func TestClusterPurgesDeadAndLeftNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pb, _ := spawnReceiver(t, b)
	pc, _ := spawnReceiver(t, c)
	if _, err := b.RegisterGlobal(ctx, "on-b", pb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterGlobal(ctx, "on-c", pc, nil); err != nil {
		t.Fatal(err)
	}
	// a monitors the process on c: DOWN arrives when c dies.
	watcher, downs := spawnReceiver(t, a)
	if _, err := a.Monitor(watcher, pc); err != nil {
		t.Fatal(err)
	}

	// Graceful leave: names gone at once.
	start := time.Now()
	if err := b.Leave(ctx); err != nil {
		t.Fatalf("leave: %v", err)
	}
	pollFor(t, 5*time.Second, nameGoneEverywhere("on-b", a, c))
	t.Logf("leave → names gone in %v", time.Since(start))

	// Silent death (no leave): purged after detection and grace.
	start = time.Now()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-downs:
		d, ok := m.Body.(node.Down)
		if !ok || d.PID != pc {
			t.Fatalf("want node.Down for %s, got %+v", pc, m.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no DOWN for the dead node's process")
	}
	// With b gone and c dead, a alone has no quorum: the purge waits.
	// This is the safe outcome; the name must not be served by a as live
	// either, which the reads report as stale.
	_, info, _ := a.LookupGlobal(ctx, "on-c")
	t.Logf("a's view of on-c after c's death without quorum: stale=%v (%v)", info.Stale, time.Since(start))
}

func TestClusterPurgeOnDeathWithQuorum(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, _ := spawnReceiver(t, c)
	if _, err := c.RegisterGlobal(ctx, "doomed", pc, nil); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 5*time.Second, func() error {
		_, _, err := a.LookupGlobal(ctx, "doomed")
		return err
	})
	start := time.Now()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 15*time.Second, nameGoneEverywhere("doomed", a, b))
	t.Logf("silent death → name purged from every survivor in %v (fast profile)", time.Since(start))
	st, _ := a.Status()
	if st.Stats.PurgesByReason["node_down"] == 0 && func() bool { s, _ := b.Status(); return s.Stats.PurgesByReason["node_down"] == 0 }() {
		t.Fatalf("no node_down purge counted: %+v", st.Stats)
	}
}

func TestClusterNameLostOnReRegister(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pa, gotA := spawnReceiver(t, a)
	first, err := a.RegisterGlobal(ctx, "leader-lock", pa, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := spawnReceiver(t, b)
	second, err := b.ReRegisterGlobal(ctx, "leader-lock", pb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Fence <= first.Fence {
		t.Fatalf("fence did not advance: %d then %d", first.Fence, second.Fence)
	}
	select {
	case m := <-gotA:
		lost, ok := m.Body.(GlobalNameLost)
		if !ok || lost.Name != "leader-lock" || lost.Reason != global.ReasonConflict || lost.Fence != first.Fence {
			t.Fatalf("want GlobalNameLost for leader-lock, got %#v", m.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old owner was not told it lost the name")
	}
	// A send fenced with the old registration no longer reaches anyone.
	pollFor(t, 5*time.Second, func() error {
		r, _, _ := a.LookupGlobal(ctx, "leader-lock")
		if r.Fence != second.Fence {
			return fmt.Errorf("a's replica at fence %d", r.Fence)
		}
		return nil
	})
	if err := a.Send(ctx, node.GlobalFenced{Name: "leader-lock", Fence: first.Fence}, "stale"); !errors.Is(err, node.ErrStaleFence) {
		t.Fatalf("stale fenced send: %v", err)
	}
}

func TestClusterCutOffNodeMarksNamesSuspect(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, got := spawnReceiver(t, c)
	reg, err := c.RegisterGlobal(ctx, "fragile", pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	// c loses both peers: it cannot know whether the majority (elsewhere)
	// purged the name, so its owner is told the name is suspect.
	start := time.Now()
	_ = a.Shutdown(ctx)
	_ = b.Shutdown(ctx)
	select {
	case m := <-got:
		s, ok := m.Body.(GlobalNameSuspect)
		if !ok || s.Name != "fragile" || s.Fence != reg.Fence {
			t.Fatalf("want GlobalNameSuspect for fragile, got %#v", m.Body)
		}
		t.Logf("owner told its name is suspect %v after losing the majority", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("owner not told its name is suspect")
	}
	// Writes on the minority side fail; they never succeed.
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	p2, _ := spawnReceiver(t, c)
	if _, err := c.RegisterGlobal(short, "minority", p2, nil); err == nil {
		t.Fatal("a minority node registered a global name")
	}
}

// A single server (-dev style) with an explicit advertise address and
// free ports forms, advertises real ports, and leaves cleanly.
func TestClusterSingleServerAdvertiseAndLeave(t *testing.T) {
	nd := newClusterNode(t, "solo", t.TempDir(), 1, func(c *Config) { c.AdvertiseAddr = "127.0.0.1" })
	waitHealthy(t, nd)
	for _, m := range nd.Members() {
		for _, addr := range []string{m.Addr, m.Meta.Transport, m.Meta.Raft} {
			if strings.HasSuffix(addr, ":0") {
				t.Fatalf("advertised a zero port: %+v", m)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pid, _ := spawnReceiver(t, nd)
	if _, err := nd.RegisterGlobal(ctx, "solo", pid, nil); err != nil {
		t.Fatal(err)
	}
	if err := nd.Leave(ctx); err != nil {
		t.Fatalf("leave of a single server: %v", err)
	}
}
