package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/local"
)

// TestExitKilledAndWait pins down what Exit(pid, Killed) means in Go: when
// it returns the pid is dead and its names are gone, but a body that ignores
// its ctx is still running; Wait returns only once the body has returned.
func TestExitKilledAndWait(t *testing.T) {
	n := newTestNode(t, "a", nil)
	release := make(chan struct{})
	var returned atomic.Bool
	started := make(chan struct{})
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		close(started)
		<-release // ignores ctx on purpose
		if _, err := p.Receive(ctx); !errors.Is(err, ErrExited) {
			t.Errorf("receive after the kill: %v", err)
		}
		returned.Store(true)
		return nil
	}, WithName("victim"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := n.Exit(pid, Killed); err != nil {
		t.Fatal(err)
	}
	if n.Alive(pid) {
		t.Fatal("alive after the kill")
	}
	if _, ok := n.Whereis("victim"); ok {
		t.Fatal("name still registered after the kill returned")
	}
	if err := n.Send(context.Background(), pid, 1); !errors.Is(err, ErrNoProc) {
		t.Fatalf("send to the killed pid: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := n.Wait(short, pid); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait while the body runs: %v", err)
	}
	// Wait from before the body returns (a Wait that looks after the body
	// returned finds nothing: NoProc, like a monitor of a gone pid); the
	// short Wait above went through the same lookup.
	held := n.lookupAny(pid)
	type waited struct{ reason, err error }
	res := make(chan waited, 1)
	go func() {
		reason, err := held.wait(callCtx(t))
		res <- waited{reason, err}
	}()
	close(release)
	w := <-res
	reason, err := w.reason, w.err
	if err != nil || !errors.Is(reason, Killed) {
		t.Fatalf("wait: %v %v", reason, err)
	}
	if !returned.Load() {
		t.Fatal("Wait returned before the body did")
	}
	// Gone for good: NoProc, like a monitor of a dead pid.
	if reason, err := n.Wait(callCtx(t), pid); err != nil || reason != NoProc {
		t.Fatalf("wait on a gone pid: %v %v", reason, err)
	}
	if _, err := n.Wait(callCtx(t), PID{Node: "other", Incarnation: 1, Serial: 1}); !errors.Is(err, ErrNotLocal) {
		t.Fatalf("wait on a remote pid: %v", err)
	}
	// Stop: the exit signal and the wait in one, without the race of an
	// Exit then a Wait that looks too late.
	pid = spawnWaiter(t, n)
	if reason, err := n.Stop(callCtx(t), pid, nil); err != nil || !errors.Is(reason, Shutdown) {
		t.Fatalf("stop: %v %v", reason, err)
	}
	if _, err := n.Stop(callCtx(t), pid, nil); !errors.Is(err, ErrNoProc) {
		t.Fatalf("stop a gone pid: %v", err)
	}
	// A normal exit: Wait gives its reason.
	pid = spawnWaiter(t, n)
	held = n.lookupAny(pid)
	boom := errors.New("boom")
	if err := n.Send(context.Background(), pid, boom); err != nil {
		t.Fatal(err)
	}
	if reason, err := held.wait(callCtx(t)); err != nil || !errors.Is(reason, boom) {
		t.Fatalf("wait: %v %v", reason, err)
	}
}

func TestProcessInfo(t *testing.T) {
	n := newTestNode(t, "a", nil)
	pid := spawnWaiter(t, n, WithTrapExit())
	block := spawnWaiter(t, n)
	if err := n.Exit(block, Killed); err != nil {
		t.Fatal(err)
	}
	w := spawnProbe(t, n)
	if _, err := w.p.Monitor(pid); err != nil {
		t.Fatal(err)
	}
	info, err := n.ProcessInfo(pid)
	if err != nil || info.PID != pid || !info.TrapExit || info.MonitoredBy != 1 || info.MessageQueueLen != 0 {
		t.Fatalf("info %+v %v", info, err)
	}
	// A process that does not read: its queue grows.
	idle, err := n.Spawn(func(ctx context.Context, p *Process) error { <-ctx.Done(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_ = n.Send(context.Background(), idle, i)
	}
	if info, err := n.ProcessInfo(idle); err != nil || info.MessageQueueLen != 3 {
		t.Fatalf("queue len %+v %v", info, err)
	}
	if _, err := n.ProcessInfo(block); !errors.Is(err, ErrNoProc) {
		t.Fatalf("dead pid: %v", err)
	}
	if _, err := n.ProcessInfo(PID{Node: "zz", Incarnation: 1, Serial: 1}); !errors.Is(err, ErrNotLocal) {
		t.Fatalf("remote pid: %v", err)
	}
}

// TestClaimNameDuringKill: a claimer looping on Register while the owner is
// killed never sees the dead owner once the kill has returned (the issue's
// 980-in-1000 failure).
func TestClaimNameDuringKill(t *testing.T) {
	n := newTestNode(t, "a", nil)
	for i := range 300 {
		owner := spawnWaiter(t, n, WithName("claimed"))
		claimer := spawnWaiter(t, n)
		var wg sync.WaitGroup
		wg.Go(func() { _ = n.Exit(owner, Killed) })
		for {
			err := n.Register("claimed", claimer)
			if err == nil {
				break
			}
			var are *local.AlreadyRegisteredError[PID]
			if !errors.As(err, &are) || are.Owner != owner {
				t.Fatalf("round %d: %v", i, err)
			}
			if !n.Alive(owner) {
				// Dead already: the next attempt must win.
				if err := n.Register("claimed", claimer); err != nil {
					t.Fatalf("round %d: register over the dead owner: %v", i, err)
				}
				break
			}
		}
		wg.Wait()
		if pid, ok := n.Whereis("claimed"); !ok || pid != claimer {
			t.Fatalf("round %d: name held by %v %v", i, pid, ok)
		}
		_ = n.Exit(claimer, Killed)
	}
}

func TestWithViaAndListeners(t *testing.T) {
	var mu sync.Mutex
	var names, groups []local.Event[PID]
	cfg := DefaultConfig()
	cfg.NodeID = "a"
	cfg.NameListeners = []local.Listener[PID]{func(ev local.Event[PID]) { mu.Lock(); names = append(names, ev); mu.Unlock() }}
	cfg.GroupListeners = []local.Listener[PID]{func(ev local.Event[PID]) { mu.Lock(); groups = append(groups, ev); mu.Unlock() }}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	reg, err := n.NewRegistry(localUnique("workers"))
	if err != nil {
		t.Fatal(err)
	}
	pid := spawnWaiter(t, n, WithVia(reg, "w1", "v1"), WithVia(n.Groups(), "pool", nil), WithName("n1"))
	if got, v, ok := reg.Whereis("w1"); !ok || got != pid || v != "v1" {
		t.Fatalf("via registration: %v %v %v", got, v, ok)
	}
	_, err = n.Spawn(func(context.Context, *Process) error { t.Error("ran"); return nil }, WithVia(reg, "w1", nil))
	var ase *AlreadyStartedError
	if !errors.As(err, &ase) || ase.PID != pid || !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("taken via key: %v", err)
	}
	if _, err := n.Spawn(func(context.Context, *Process) error { return nil }, WithName("n1")); !errors.As(err, &ase) || ase.PID != pid {
		t.Fatalf("taken name: %v", err)
	}
	if err := n.Send(context.Background(), Via{Registry: reg, Key: "nobody"}, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("via a missing key: %v", err)
	}
	_ = n.Exit(pid, errors.New("bye"))
	if _, _, ok := reg.Whereis("w1"); ok {
		t.Fatal("via entry survived its process")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 2 || names[0].Type != local.Registered || names[1].Reason != local.ReasonProcessExit {
		t.Fatalf("name events %+v", names)
	}
	if len(groups) != 2 || groups[1].ExitReason == nil || groups[1].ExitReason.Error() != "bye" {
		t.Fatalf("group events %+v", groups)
	}
	bad := DefaultConfig()
	bad.NameListeners = []local.Listener[PID]{nil}
	if _, err := New(bad); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("nil listener: %v", err)
	}
}

func TestReceiveOr(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ch := make(chan int)
	type got struct {
		m      Message
		v      int
		fromCh bool
		err    error
	}
	out := make(chan got, 8)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			m, v, fromCh, err := ReceiveOr(ctx, p, ch)
			out <- got{m, v, fromCh, err}
			if err != nil {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	next := func() got {
		select {
		case g := <-out:
			return g
		case <-time.After(5 * time.Second):
			t.Fatal("nothing received")
			return got{}
		}
	}
	if err := n.Send(context.Background(), pid, "mail"); err != nil {
		t.Fatal(err)
	}
	if g := next(); g.fromCh || g.m.Body != "mail" || g.err != nil {
		t.Fatalf("mailbox: %+v", g)
	}
	ch <- 7
	if g := next(); !g.fromCh || g.v != 7 || g.err != nil {
		t.Fatalf("channel: %+v", g)
	}
	if err := n.Send(context.Background(), pid, "again"); err != nil {
		t.Fatal(err)
	}
	if g := next(); g.m.Body != "again" {
		t.Fatalf("mailbox after a channel value: %+v", g)
	}
	close(ch)
	if g := next(); !g.fromCh || !errors.Is(g.err, ErrChanClosed) {
		t.Fatalf("closed channel: %+v", g)
	}
}
