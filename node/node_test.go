package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"empty id", func(c *Config) { c.NodeID = "" }, false},
		{"bad id", func(c *Config) { c.NodeID = "a b" }, false},
		{"negative limit", func(c *Config) { c.DefaultMailbox.Limit = -1 }, false},
		{"bad policy", func(c *Config) { c.DefaultMailbox.Policy = 9 }, false},
		{"negative partitions", func(c *Config) { c.RegistryPartitions = -1 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
		})
	}
}

func TestNewCopiesConfigAndDrawsIncarnation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeID = "a"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if n.Incarnation() == 0 || cfg.Incarnation != 0 {
		t.Fatalf("incarnation %d, caller's config mutated to %d", n.Incarnation(), cfg.Incarnation)
	}
	if n.ID() != "a" {
		t.Fatalf("ID = %q", n.ID())
	}
	fn := newFakeNet()
	cfg2 := DefaultConfig()
	cfg2.NodeID = "other"
	cfg2.Transport = fn.transport("b", 7)
	if _, err := New(cfg2); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("mismatched transport id: %v", err)
	}
}

func TestSpawnSendReceive(t *testing.T) {
	n := newTestNode(t, "a", nil)
	echo, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if err := p.Send(ctx, m.From, m.Body); err != nil {
				return err
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pr := spawnProbe(t, n)
	if err := pr.p.Send(context.Background(), echo, "hello"); err != nil {
		t.Fatal(err)
	}
	m := pr.next(t)
	if m.Body != "hello" || m.From != echo {
		t.Fatalf("got %v from %s, want hello from %s", m.Body, m.From, echo)
	}
	if got := n.Processes(); got != 2 {
		t.Fatalf("Processes = %d, want 2", got)
	}
	if !n.Alive(echo) {
		t.Fatal("echo not alive")
	}
	// The probe may receive the reply before deliver has counted it.
	waitFor(t, "stats", func() error {
		if st := n.Stats(); st.Spawned != 2 || st.MsgsIn != 2 || st.Live != 2 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	if err := n.Send(context.Background(), echo, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestExitReasonsAndDown(t *testing.T) {
	n := newTestNode(t, "a", nil)
	boom := errors.New("boom")
	cases := []struct {
		name string
		fn   ProcessFunc
		want error
	}{
		{"normal", func(context.Context, *Process) error { return nil }, Normal},
		{"error", func(context.Context, *Process) error { return boom }, boom},
		{"panic", func(context.Context, *Process) error { panic("oops") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := spawnProbe(t, n)
			gate := make(chan struct{})
			pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
				<-gate
				return tc.fn(ctx, p)
			})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := pr.p.Monitor(pid)
			if err != nil {
				t.Fatal(err)
			}
			close(gate)
			d := pr.down(t)
			if d.Ref != ref || d.PID != pid {
				t.Fatalf("down %+v, want ref %d pid %s", d, ref, pid)
			}
			if tc.want == nil {
				var pe *PanicError
				if !errors.As(d.Reason, &pe) || pe.Value != "oops" {
					t.Fatalf("reason %v, want panic", d.Reason)
				}
			} else if !errors.Is(d.Reason, tc.want) {
				t.Fatalf("reason %v, want %v", d.Reason, tc.want)
			}
			if n.Alive(pid) {
				t.Fatal("still alive after Down")
			}
			if err := n.Send(context.Background(), pid, 1); !errors.Is(err, ErrNoProc) {
				t.Fatalf("send to dead: %v", err)
			}
		})
	}
}

func TestMonitorDeadAndDemonitor(t *testing.T) {
	n := newTestNode(t, "a", nil)
	pr := spawnProbe(t, n)
	dead, _ := n.Spawn(func(context.Context, *Process) error { return nil })
	waitFor(t, "exit", func() error {
		if n.Alive(dead) {
			return errors.New("alive")
		}
		return nil
	})
	if _, err := pr.p.Monitor(dead); err != nil {
		t.Fatal(err)
	}
	if d := pr.down(t); !errors.Is(d.Reason, NoProc) || d.PID != dead {
		t.Fatalf("down %+v, want noproc", d)
	}
	stale := PID{Node: "a", Incarnation: n.Incarnation() + 1, Serial: 1}
	if _, err := pr.p.Monitor(stale); err != nil {
		t.Fatal(err)
	}
	if d := pr.down(t); !errors.Is(d.Reason, NoProc) {
		t.Fatalf("stale pid down %+v", d)
	}

	w := spawnWaiter(t, n)
	ref, err := pr.p.Monitor(w)
	if err != nil {
		t.Fatal(err)
	}
	pr.p.Demonitor(ref)
	if err := n.Exit(w, Killed); err != nil {
		t.Fatal(err)
	}
	pr.none(t)
	if _, err := pr.p.Monitor(pr.pid); !errors.Is(err, ErrSelf) {
		t.Fatalf("self monitor: %v", err)
	}
	if _, err := n.Monitor(dead, pr.pid); !errors.Is(err, ErrNoProc) {
		t.Fatalf("dead watcher: %v", err)
	}
	if _, err := pr.p.Monitor(3.5); !errors.Is(err, ErrBadDest) {
		t.Fatalf("bad dest: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := context.Background()
	if _, err := n.Spawn(nil); !errors.Is(err, ErrNilFunc) {
		t.Fatalf("nil func: %v", err)
	}
	if _, err := n.Spawn(func(context.Context, *Process) error { return nil }, WithMailbox(MailboxConfig{Limit: -1})); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad mailbox: %v", err)
	}
	for _, d := range []Dest{nil, 42, "plain string", &PID{}} {
		if err := n.Send(ctx, d, 1); !errors.Is(err, ErrBadDest) {
			t.Fatalf("Send(%T): %v", d, err)
		}
	}
	if err := n.Send(ctx, PID{}, 1); !errors.Is(err, ErrNoProc) {
		t.Fatalf("zero pid: %v", err)
	}
	if err := n.Send(ctx, PID{Node: "a", Incarnation: n.Incarnation() + 1, Serial: 1}, 1); !errors.Is(err, ErrNoProc) {
		t.Fatalf("old incarnation: %v", err)
	}
	if err := n.Send(ctx, PID{Node: "b", Incarnation: 1, Serial: 1}, 1); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("remote without transport: %v", err)
	}
	if err := n.Send(ctx, Name("nobody"), 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
	if err := n.Send(ctx, Global("g"), 1); !errors.Is(err, ErrNoGlobal) {
		t.Fatalf("global: %v", err)
	}
	if err := n.Exit(PID{}, Killed); !errors.Is(err, ErrNoProc) {
		t.Fatalf("exit zero: %v", err)
	}
	pr := spawnProbe(t, n)
	if _, err := pr.p.ReceiveMatch(ctx, nil); !errors.Is(err, ErrNilFunc) {
		t.Fatalf("nil match: %v", err)
	}
	if err := n.Attach(pr.pid, nil); !errors.Is(err, ErrNilFunc) {
		t.Fatalf("nil listener: %v", err)
	}
	if _, err := ParsePID("not-a-pid"); err == nil {
		t.Fatal("ParsePID accepted junk")
	}
}

func TestShutdown(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeID = "a"
	cfg.Logger = testLogger(t)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(chan error, 10)
	for i := 0; i < 10; i++ {
		if _, err := n.Spawn(func(ctx context.Context, p *Process) error {
			<-ctx.Done()
			reasons <- context.Cause(ctx)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	gone := &recorder{}
	l := gone
	for _, pid := range []PID{spawnWaiter(t, n)} {
		if err := n.Attach(pid, l); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if len(reasons) != 10 {
		t.Fatalf("%d processes saw ctx cancelled, want 10", len(reasons))
	}
	if got := gone.reasons(); len(got) != 1 || !errors.Is(got[0], Shutdown) {
		t.Fatalf("exit reasons %v, want [shutdown]", got)
	}
	if n.Processes() != 0 {
		t.Fatalf("Processes = %d after shutdown", n.Processes())
	}
	if _, err := n.Spawn(func(context.Context, *Process) error { return nil }); !errors.Is(err, ErrShutdown) {
		t.Fatalf("spawn after shutdown: %v", err)
	}
}
