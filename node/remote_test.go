package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// pair builds nodes a and b connected by a fake transport.
func pair(t *testing.T) (*fakeNet, *Node, *Node) {
	t.Helper()
	fn := newFakeNet()
	a := newTestNode(t, "", fn.transport("a", 11))
	b := newTestNode(t, "", fn.transport("b", 22))
	return fn, a, b
}

type job struct {
	ID   int      `msgpack:"id"`
	Tags []string `msgpack:"tags"`
}

func TestRemoteSendAndDecode(t *testing.T) {
	_, a, b := pair(t)
	if a.ID() != "a" || a.Incarnation() != 11 {
		t.Fatalf("node a is %s/%d", a.ID(), a.Incarnation())
	}
	ctx := context.Background()
	pb := spawnProbe(t, b, WithName("inbox"))
	pa := spawnProbe(t, a)
	if err := pa.p.Send(ctx, pb.pid, job{ID: 7, Tags: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	m := pb.next(t)
	if m.From != pa.pid || !m.Remote() {
		t.Fatalf("from %s remote %v", m.From, m.Remote())
	}
	var j job
	if err := m.Decode(&j); err != nil || j.ID != 7 || len(j.Tags) != 1 || j.Tags[0] != "x" {
		t.Fatalf("decode: %+v %v", j, err)
	}
	if body, ok := m.Body.(map[string]any); !ok || body["id"] != int8(7) {
		t.Fatalf("generic body %#v", m.Body)
	}
	if err := a.Send(ctx, RemoteName{Node: "b", Name: "inbox"}, "by name"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "by name" || !m.From.IsZero() {
		t.Fatalf("got %v from %s", m.Body, m.From)
	}
	if err := a.Send(ctx, pb.pid, make(chan int)); !errors.Is(err, ErrEncode) {
		t.Fatalf("unencodable: %v", err)
	}
	if err := a.Send(ctx, PID{Node: "zz", Incarnation: 1, Serial: 1}, 1); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("unknown peer: %v", err)
	}
}

func TestRemoteDropsStaleAndDead(t *testing.T) {
	_, a, b := pair(t)
	ctx := context.Background()
	pb := spawnProbe(t, b)
	stale := pb.pid
	stale.Incarnation = 999
	dead := spawnWaiter(t, b)
	_ = b.Exit(dead, Killed)
	before := b.Stats().Dropped
	for _, to := range []Dest{stale, dead, RemoteName{Node: "b", Name: "nobody"}} {
		if err := a.Send(ctx, to, "lost"); err != nil {
			t.Fatalf("send %v: %v (remote sends are async)", to, err)
		}
	}
	if err := a.Send(ctx, pb.pid, "kept"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "kept" {
		t.Fatalf("got %v: a stale message was delivered", m.Body)
	}
	if got := b.Stats().Dropped - before; got != 3 {
		t.Fatalf("b dropped %d, want 3", got)
	}
}

func TestRemoteMonitor(t *testing.T) {
	_, a, b := pair(t)
	watch := spawnProbe(t, a)
	boom := errors.New("boom")

	target := spawnWaiter(t, b)
	ref, err := watch.p.Monitor(target)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor installed", func() error { return hasWatcher(b, target) })
	_ = b.Send(context.Background(), target, boom)
	d := watch.down(t)
	if d.Ref != ref || d.PID != target || d.Reason.Error() != "boom" {
		t.Fatalf("down %+v", d)
	}

	killed := spawnWaiter(t, b)
	if _, err := watch.p.Monitor(killed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor installed", func() error { return hasWatcher(b, killed) })
	if err := a.Exit(killed, Killed); err != nil { // remote exit/2
		t.Fatal(err)
	}
	if d := watch.down(t); !errors.Is(d.Reason, Killed) {
		t.Fatalf("down %+v, want killed", d)
	}

	if _, err := watch.p.Monitor(killed); err != nil { // now dead
		t.Fatal(err)
	}
	if d := watch.down(t); !errors.Is(d.Reason, NoProc) {
		t.Fatalf("down %+v, want noproc", d)
	}

	quiet := spawnWaiter(t, b)
	ref, _ = watch.p.Monitor(quiet)
	waitFor(t, "monitor installed", func() error { return hasWatcher(b, quiet) })
	watch.p.Demonitor(ref)
	waitFor(t, "monitor removed", func() error {
		if hasWatcher(b, quiet) == nil {
			return errors.New("still watched")
		}
		return nil
	})
	_ = b.Exit(quiet, boom)
	watch.none(t)
}

// hasWatcher reports nil if pid (on n) has a monitor.
func hasWatcher(n *Node, pid PID) error {
	p := n.lookup(pid)
	if p == nil {
		return errors.New("no process")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.watchers) == 0 {
		return errors.New("no watchers")
	}
	return nil
}

func TestRemoteLink(t *testing.T) {
	_, a, b := pair(t)
	boom := errors.New("boom")
	trapper := spawnProbe(t, a, WithTrapExit())
	rb := spawnWaiter(t, b, WithLink(trapper.pid))
	waitFor(t, "link on a", func() error { return linked(trapper.p, rb) })
	_ = b.Send(context.Background(), rb, boom)
	sig, ok := trapper.next(t).Body.(ExitSignal)
	if !ok || sig.From != rb || sig.Reason.Error() != "boom" {
		t.Fatalf("got %+v", sig)
	}

	// Abnormal exit on a kills the linked process on b.
	victim := spawnWaiter(t, b)
	watch := spawnProbe(t, b)
	if _, err := watch.p.Monitor(victim); err != nil {
		t.Fatal(err)
	}
	la := spawnWaiter(t, a, WithLink(victim))
	waitFor(t, "link on b", func() error { return linked(b.lookup(victim), la) })
	_ = a.Send(context.Background(), la, boom)
	if d := watch.down(t); d.Reason.Error() != "boom" {
		t.Fatalf("victim died with %v", d.Reason)
	}

	// Linking to a dead remote pid gives an exit signal noproc.
	if err := trapper.p.Link(victim); err != nil {
		t.Fatal(err)
	}
	if sig := trapper.next(t).Body.(ExitSignal); sig.From != victim || !errors.Is(sig.Reason, NoProc) {
		t.Fatalf("got %+v", sig)
	}
}

func linked(p *Process, to PID) error {
	if p == nil {
		return errors.New("no process")
	}
	for _, l := range p.Links() {
		if l == to {
			return nil
		}
	}
	return fmt.Errorf("%s not linked to %s", p.PID(), to)
}

func TestPeerDownAndNodeDown(t *testing.T) {
	fn, a, b := pair(t)
	watch := spawnProbe(t, a)
	trapper := spawnProbe(t, a, WithTrapExit())
	target := spawnWaiter(t, b)
	if _, err := watch.p.Monitor(target); err != nil {
		t.Fatal(err)
	}
	if err := trapper.p.Link(target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "installed", func() error {
		if err := hasWatcher(b, target); err != nil {
			return err
		}
		return linked(b.lookup(target), trapper.pid)
	})

	fn.disconnect("a", "b")
	if d := watch.down(t); !errors.Is(d.Reason, NoConnection) || d.PID != target {
		t.Fatalf("down %+v, want noconnection", d)
	}
	if sig := trapper.next(t).Body.(ExitSignal); !errors.Is(sig.Reason, NoConnection) {
		t.Fatalf("exit %+v, want noconnection", sig)
	}
	waitFor(t, "b forgot a's monitor", func() error {
		if hasWatcher(b, target) == nil {
			return errors.New("still watched")
		}
		return nil
	})
	// Monitoring across the cut fails fast with noconnection.
	if _, err := watch.p.Monitor(target); err != nil {
		t.Fatal(err)
	}
	if d := watch.down(t); !errors.Is(d.Reason, NoConnection) {
		t.Fatalf("down %+v", d)
	}

	// NodeDown (membership) and PeerUp with a new incarnation.
	// Fabricate a monitor of a pid of b (the link to b is cut).
	ghost := PID{Node: "b", Incarnation: 22, Serial: 9999}
	ref := Ref(a.refs.Add(1))
	a.monMu.Lock()
	a.mons[ref] = monitorRec{watcher: watch.pid, target: ghost}
	a.monMu.Unlock()
	a.NodeDown("b", 23) // another incarnation: no effect
	watch.none(t)
	a.NodeDown("b", 22)
	if d := watch.down(t); !errors.Is(d.Reason, NodeDown) || d.Ref != ref {
		t.Fatalf("down %+v, want nodedown", d)
	}
	ref = Ref(a.refs.Add(1))
	a.monMu.Lock()
	a.mons[ref] = monitorRec{watcher: watch.pid, target: ghost}
	a.monMu.Unlock()
	a.PeerUp("b", 23)
	if d := watch.down(t); !errors.Is(d.Reason, NoConnection) || d.Ref != ref {
		t.Fatalf("down %+v after restart of b", d)
	}
}

// fakeGlobal is a GlobalResolver backed by a map.
type fakeGlobal struct {
	mu    sync.Mutex
	names map[string]struct {
		pid   PID
		fence uint64
	}
}

func (g *fakeGlobal) set(name string, pid PID, fence uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.names == nil {
		g.names = map[string]struct {
			pid   PID
			fence uint64
		}{}
	}
	g.names[name] = struct {
		pid   PID
		fence uint64
	}{pid, fence}
}

func (g *fakeGlobal) Resolve(name string) (PID, uint64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.names[name]
	return e.pid, e.fence, ok
}

func TestGlobalSeamAndFences(t *testing.T) {
	_, a, b := pair(t)
	ctx := context.Background()
	ga, gb := &fakeGlobal{}, &fakeGlobal{}
	a.SetGlobal(ga)
	b.SetGlobal(gb)
	pb := spawnProbe(t, b)
	ga.set("svc", pb.pid, 5)
	gb.set("svc", pb.pid, 5)
	if err := a.Send(ctx, Global("svc"), "one"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "one" {
		t.Fatalf("got %v", m.Body)
	}
	if err := a.Send(ctx, GlobalFenced{Name: "svc", Fence: 4}, "old"); !errors.Is(err, ErrStaleFence) {
		t.Fatalf("stale fence at sender: %v", err)
	}
	// b knows a newer registration than a: b drops a's message.
	gb.set("svc", pb.pid, 9)
	dropped := b.Stats().Dropped
	if err := a.Send(ctx, Global("svc"), "stale"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b drops the stale message", func() error {
		if b.Stats().Dropped == dropped {
			return errors.New("not dropped yet")
		}
		return nil
	})
	gb.set("svc", pb.pid, 5)
	if err := a.Send(ctx, Global("svc"), "fresh"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "fresh" {
		t.Fatalf("got %v: the stale message was delivered", m.Body)
	}
	if err := a.Send(ctx, Global("missing"), 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing global: %v", err)
	}
	if ref, err := a.Monitor(spawnProbe(t, a).pid, Global("svc")); err != nil || ref == 0 {
		t.Fatalf("monitor global: %v", err)
	}
	a.SetGlobal(nil)
	if err := a.Send(ctx, Global("svc"), 1); !errors.Is(err, ErrNoGlobal) {
		t.Fatalf("unwired: %v", err)
	}
}

func TestShutdownTellsRemoteWatchers(t *testing.T) {
	fn := newFakeNet()
	a := newTestNode(t, "", fn.transport("a", 11))
	cfg := DefaultConfig()
	cfg.NodeID = ""
	cfg.Transport = fn.transport("b", 22)
	cfg.Logger = testLogger(t)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	watch := spawnProbe(t, a)
	target := spawnWaiter(t, b)
	if _, err := watch.p.Monitor(target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor installed", func() error { return hasWatcher(b, target) })
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := watch.down(t); !errors.Is(d.Reason, Shutdown) {
		t.Fatalf("down %+v, want shutdown", d)
	}
	if err := b.Start(context.Background()); err != nil && !errors.Is(err, ErrShutdown) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

// TestRemoteMonitorThenSendKeepsOrder: a Monitor followed by a Send reaches
// the peer in that order, so a target that crashes on the message reports
// its real reason, not noproc.
func TestRemoteMonitorThenSendKeepsOrder(t *testing.T) {
	_, a, b := pair(t)
	watch := spawnProbe(t, a)
	for i := 0; i < 20; i++ {
		target := spawnWaiter(t, b)
		if _, err := watch.p.Monitor(target); err != nil {
			t.Fatal(err)
		}
		if err := watch.p.Send(context.Background(), target, "crash"); err != nil {
			t.Fatal(err)
		}
		if d := watch.down(t); errors.Is(d.Reason, NoProc) {
			t.Fatalf("round %d: message overtook the monitor: %v", i, d.Reason)
		}
	}
}
