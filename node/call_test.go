package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/roster-dev/roster/local"
)

// spawnServer spawns a process that answers every call with handle's
// result; a call whose request is "die" makes it exit with an error
// instead, and "ignore" goes unanswered.
func spawnServer(t testing.TB, n *Node, handle func(m Message) any, opts ...SpawnOption) PID {
	t.Helper()
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if !m.IsCall() {
				continue
			}
			switch m.Body {
			case "die":
				return errors.New("server died")
			case "ignore":
				continue
			}
			if err := p.Reply(ctx, m.ReplyTo(), handle(m)); err != nil {
				return err
			}
		}
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func echo(m Message) any { return fmt.Sprint("echo:", m.Body) }

// callCtx is a context for a call expected to finish.
func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noCallState fails unless n holds no active alias and no inbound call.
func noCallState(t testing.TB, n *Node) {
	t.Helper()
	waitFor(t, "call state drained on "+string(n.ID()), func() error {
		if a, c := n.aliases.len(), n.inCalls.len(); a != 0 || c != 0 {
			return fmt.Errorf("%d aliases, %d inbound calls", a, c)
		}
		return nil
	})
}

// watchers returns how many monitors of pid its process holds.
func watchers(n *Node, pid PID) int {
	p := n.lookup(pid)
	if p == nil {
		return -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.watchers)
}

func TestCallLocal(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := callCtx(t)
	srv := spawnServer(t, n, echo, WithName("srv"))
	reg, err := n.NewRegistry(localUnique("via"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("k", srv, nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []Dest{srv, Name("srv"), RemoteName{Node: "a", Name: "srv"}, Via{Registry: reg, Key: "k"}} {
		m, err := n.Call(ctx, to, 1)
		if err != nil || m.Body != "echo:1" || m.From != srv {
			t.Fatalf("call %v: %v %v from %s", to, m.Body, err, m.From)
		}
	}
	got, err := CallAs[string](ctx, n, srv, "x")
	if err != nil || got != "echo:x" {
		t.Fatalf("CallAs: %q %v", got, err)
	}
	// From a process: the request's From is the caller, and the caller's
	// mailbox is left alone.
	pr := spawnProbe(t, n)
	if err := n.Send(ctx, pr.pid, "queued"); err != nil {
		t.Fatal(err)
	}
	<-pr.ch // the probe takes it; the next one stays until we look
	srv2 := spawnServer(t, n, func(m Message) any { return m.From })
	m, err := pr.p.Call(ctx, srv2, "who")
	if err != nil || m.Body != pr.pid {
		t.Fatalf("process call: %v %v", m.Body, err)
	}
	if watchers(n, srv) != 0 || watchers(n, srv2) != 0 {
		t.Fatalf("call monitors left: %d %d", watchers(n, srv), watchers(n, srv2))
	}
	noCallState(t, n)
}

func TestCallFailsFast(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := callCtx(t)
	srv := spawnServer(t, n, echo)
	start := time.Now()
	_, err := n.Call(ctx, srv, "die")
	var ce *CallError
	if !errors.As(err, &ce) || ce.PID != srv || ce.Reason == nil || ce.Reason.Error() != "server died" {
		t.Fatalf("callee died mid-call: %v", err)
	}
	if _, err := n.Call(ctx, srv, 1); !errors.Is(err, NoProc) {
		t.Fatalf("dead callee: %v", err)
	}
	if _, err := n.Call(ctx, Name("nobody"), 1); !errors.Is(err, NoProc) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("failures took %v", time.Since(start))
	}
	// Killed mid-call.
	srv = spawnServer(t, n, echo)
	go func() {
		waitFor(t, "call monitor set", func() error {
			if watchers(n, srv) != 1 {
				return errors.New("no monitor yet")
			}
			return nil
		})
		_ = n.Exit(srv, Killed)
	}()
	if _, err := n.Call(ctx, srv, "ignore"); !errors.Is(err, Killed) {
		t.Fatalf("killed callee: %v", err)
	}
	noCallState(t, n)
}

func TestCallTimeoutDropsLateReply(t *testing.T) {
	n := newTestNode(t, "a", nil)
	held := make(chan ReplyTo, 1)
	srv, err := n.Spawn(func(ctx context.Context, p *Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return nil
		}
		held <- m.ReplyTo()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	caller := spawnProbe(t, n)
	var rt ReplyTo
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := caller.p.Call(ctx, srv, "slow")
		done <- err
	}()
	rt = <-held
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	if err := n.Reply(context.Background(), rt, "late"); err != nil {
		t.Fatalf("late reply: %v (want dropped silently)", err)
	}
	caller.none(t)
	if watchers(n, srv) != 0 {
		t.Fatal("the timed-out call still monitors the callee")
	}
	// A reply to a caller that is dead is dropped without error too.
	_ = n.Exit(caller.pid, Killed)
	if err := caller.p.Reply(context.Background(), rt, "x"); err != nil {
		t.Fatal(err)
	}
	noCallState(t, n)
}

func TestCallBadInput(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := callCtx(t)
	before := runtime.NumGoroutine()
	for _, to := range []Dest{nil, 42, "name", PID{}, Via{}} {
		if _, err := n.Call(ctx, to, 1); err == nil {
			t.Fatalf("call %#v: no error", to)
		}
	}
	if _, err := n.Call(ctx, Global("g"), 1); !errors.Is(err, ErrNoGlobal) {
		t.Fatalf("global without a table: %v", err)
	}
	if err := n.Reply(ctx, ReplyTo{}, 1); !errors.Is(err, ErrNotCall) {
		t.Fatalf("zero reply address: %v", err)
	}
	if err := n.Reply(ctx, ReplyTo{Caller: n.pseudoPID(), Ref: 12345}, 1); err != nil {
		t.Fatalf("unknown ref: %v (dropped silently)", err)
	}
	if err := n.Reply(ctx, Message{Body: 1}.ReplyTo(), 1); !errors.Is(err, ErrNotCall) {
		t.Fatalf("reply to a plain message: %v", err)
	}
	pr := spawnProbe(t, n)
	if _, err := pr.p.Call(ctx, pr.pid, 1); !errors.Is(err, ErrSelf) {
		t.Fatalf("self call: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Call(cancelled, pr.pid, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	_ = n.Exit(pr.pid, Killed)
	waitFor(t, "no goroutine leaked", func() error {
		if g := runtime.NumGoroutine(); g > before {
			return fmt.Errorf("%d goroutines, %d before", g, before)
		}
		return nil
	})
	noCallState(t, n)
}

func TestCallCallerKilled(t *testing.T) {
	n := newTestNode(t, "a", nil)
	srv := spawnServer(t, n, echo)
	res := make(chan error, 1)
	caller, err := n.Spawn(func(ctx context.Context, p *Process) error {
		_, err := p.Call(context.Background(), srv, "ignore")
		res <- err
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "call in flight", func() error {
		if watchers(n, srv) != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	_ = n.Exit(caller, Killed)
	select {
	case err := <-res:
		if !errors.Is(err, ErrExited) {
			t.Fatalf("killed caller's call: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the killed caller's call did not end")
	}
	if watchers(n, srv) != 0 {
		t.Fatal("monitor left behind")
	}
	noCallState(t, n)
}

func TestCallRemote(t *testing.T) {
	_, a, b := pair(t)
	ctx := callCtx(t)
	srv := spawnServer(t, b, echo, WithName("srv"))
	pa := spawnProbe(t, a)
	for _, c := range []Caller{a, pa.p} {
		for _, to := range []Dest{srv, RemoteName{Node: "b", Name: "srv"}} {
			m, err := c.Call(ctx, to, "hi")
			if err != nil || m.Body != "echo:hi" || m.From != srv || !m.Remote() {
				t.Fatalf("remote call %v: %v %v from %s", to, m.Body, err, m.From)
			}
		}
	}
	who := spawnServer(t, b, func(m Message) any { return m.From.String() })
	if m, err := a.Call(ctx, who, 1); err != nil || m.Body != "" {
		t.Fatalf("plain caller's From: %q %v", m.Body, err)
	}
	if m, err := pa.p.Call(ctx, who, 1); err != nil || m.Body != pa.pid.String() {
		t.Fatalf("process caller's From: %q %v", m.Body, err)
	}
	start := time.Now()
	if _, err := a.Call(ctx, RemoteName{Node: "b", Name: "nobody"}, 1); !errors.Is(err, NoProc) {
		t.Fatalf("missing remote name: %v", err)
	}
	if _, err := a.Call(ctx, srv, "die"); err == nil || errors.Is(err, NoProc) {
		t.Fatalf("remote callee died mid-call: %v", err)
	}
	if _, err := a.Call(ctx, srv, 1); !errors.Is(err, NoProc) {
		t.Fatalf("dead remote callee: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("remote failures took %v", time.Since(start))
	}
	if watchers(b, who) != 0 {
		t.Fatalf("callee side kept %d call monitors", watchers(b, who))
	}
	noCallState(t, a)
	noCallState(t, b)
}

func TestCallRemoteTimeoutAndLateReply(t *testing.T) {
	_, a, b := pair(t)
	held := make(chan Message, 1)
	srv, err := b.Spawn(func(ctx context.Context, p *Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return nil
		}
		held <- m
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	caller := spawnProbe(t, a)
	tctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := caller.p.Call(tctx, srv, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("remote timeout: %v", err)
	}
	m := <-held
	if !m.IsCall() || m.From != caller.pid {
		t.Fatalf("request: call %v from %s", m.IsCall(), m.From)
	}
	waitFor(t, "the caller's demonitor reaches b", func() error {
		if w := watchers(b, srv); w != 0 {
			return fmt.Errorf("%d watchers", w)
		}
		return nil
	})
	dropped := a.Stats().Dropped
	if err := b.Reply(context.Background(), m.ReplyTo(), "late"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a drops the late reply", func() error {
		if a.Stats().Dropped == dropped {
			return errors.New("not yet")
		}
		return nil
	})
	caller.none(t)
	// A reply to a remote caller that died is dropped without error.
	_ = a.Exit(caller.pid, Killed)
	if err := b.Reply(context.Background(), m.ReplyTo(), "x"); err != nil {
		t.Fatal(err)
	}
	noCallState(t, a)
	noCallState(t, b)
}

func TestCallRemoteNodeLost(t *testing.T) {
	fn, a, b := pair(t)
	for i, byName := range []bool{false, true} {
		name := fmt.Sprint("srv", i)
		srv := spawnServer(t, b, echo, WithName(name))
		var to Dest = srv
		if byName {
			to = RemoteName{Node: "b", Name: name}
		}
		res := make(chan error, 1)
		go func() {
			_, err := a.Call(context.Background(), to, "ignore")
			res <- err
		}()
		waitFor(t, "call reaches b", func() error {
			if watchers(b, srv) == 0 || a.aliases.len() == 0 {
				return errors.New("not yet")
			}
			return nil
		})
		a.PeerDown("b", b.Incarnation(), errors.New("test: cut"))
		select {
		case err := <-res:
			if !errors.Is(err, NoConnection) {
				t.Fatalf("call %v after peer down: %v", to, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %v did not end on peer down", to)
		}
	}
	_ = fn
	noCallState(t, a)
}

func TestCallGlobalFenced(t *testing.T) {
	_, a, b := pair(t)
	ctx := callCtx(t)
	ga, gb := &fakeGlobal{}, &fakeGlobal{}
	a.SetGlobal(ga)
	b.SetGlobal(gb)
	srv := spawnServer(t, b, echo)
	ga.set("svc", srv, 5)
	gb.set("svc", srv, 5)
	for _, to := range []Dest{Global("svc"), GlobalFenced{Name: "svc", Fence: 5}} {
		if m, err := a.Call(ctx, to, 1); err != nil || m.Body != "echo:1" {
			t.Fatalf("global call %v: %v %v", to, m.Body, err)
		}
	}
	if _, err := a.Call(ctx, GlobalFenced{Name: "svc", Fence: 4}, 1); !errors.Is(err, ErrStaleFence) {
		t.Fatalf("stale fence at the caller: %v", err)
	}
	gb.set("svc", srv, 9) // b knows a newer registration than a
	if _, err := a.Call(ctx, Global("svc"), 1); !errors.Is(err, ErrStaleFence) {
		t.Fatalf("stale fence at the owner's node: %v", err)
	}
	if _, err := a.Call(ctx, Global("missing"), 1); !errors.Is(err, NoProc) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing global: %v", err)
	}
	noCallState(t, a)
	noCallState(t, b)
}

func TestMonitorRemoteName(t *testing.T) {
	_, a, b := pair(t)
	pa := spawnProbe(t, a)
	srv := spawnWaiter(t, b, WithName("srv"))
	ref, err := pa.p.Monitor(RemoteName{Node: "b", Name: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor reaches b", func() error {
		if watchers(b, srv) != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	_ = b.Exit(srv, Killed)
	if d := pa.down(t); d.Ref != ref || d.PID != srv || !errors.Is(d.Reason, Killed) {
		t.Fatalf("down %+v", d)
	}
	ref, err = pa.p.Monitor(RemoteName{Node: "b", Name: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if d := pa.down(t); d.Ref != ref || !errors.Is(d.Reason, NoProc) || d.PID.Node != "b" {
		t.Fatalf("down for a missing name %+v", d)
	}
	// Demonitor by name removes the watcher on b.
	srv = spawnWaiter(t, b, WithName("srv2"))
	ref, err = pa.p.Monitor(RemoteName{Node: "b", Name: "srv2"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor reaches b", func() error {
		if watchers(b, srv) != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	pa.p.Demonitor(ref)
	waitFor(t, "demonitor reaches b", func() error {
		if w := watchers(b, srv); w != 0 {
			return fmt.Errorf("%d watchers", w)
		}
		return nil
	})
	// A name monitor fires NoConnection when the peer goes.
	if _, err := pa.p.Monitor(RemoteName{Node: "b", Name: "srv2"}); err != nil {
		t.Fatal(err)
	}
	a.PeerDown("b", b.Incarnation(), errors.New("test: cut"))
	if d := pa.down(t); !errors.Is(d.Reason, NoConnection) {
		t.Fatalf("down %+v", d)
	}
}

// localUnique is the config of a unique registry for tests.
func localUnique(name string) local.Config[PID] {
	return local.Config[PID]{Name: name, Keys: local.Unique}
}
