package node

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestLinkPropagation(t *testing.T) {
	n := newTestNode(t, "a", nil)
	boom := errors.New("boom")
	cases := []struct {
		name      string
		reason    error // exit reason of the first process (sent as a message or via Exit)
		kill      bool  // use Node.Exit(Killed) instead of returning reason
		wantDies  bool
		wantCause error
	}{
		{"abnormal kills", boom, false, true, boom},
		{"normal does not", nil, false, false, nil},
		{"killed propagates as killed", nil, true, true, Killed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := spawnWaiter(t, n)
			b := spawnWaiter(t, n, WithLink(a))
			watch := spawnProbe(t, n)
			if _, err := watch.p.Monitor(b); err != nil {
				t.Fatal(err)
			}
			if tc.kill {
				if err := n.Exit(a, Killed); err != nil {
					t.Fatal(err)
				}
			} else if err := n.Send(context.Background(), a, tc.reason); err != nil {
				t.Fatal(err)
			}
			if !tc.wantDies {
				waitFor(t, "a exits", func() error {
					if n.Alive(a) {
						return errors.New("a alive")
					}
					return nil
				})
				watch.none(t)
				if !n.Alive(b) {
					t.Fatal("b died on a normal exit")
				}
				return
			}
			if d := watch.down(t); !errors.Is(d.Reason, tc.wantCause) {
				t.Fatalf("b died with %v, want %v", d.Reason, tc.wantCause)
			}
		})
	}
}

func TestTrapExit(t *testing.T) {
	n := newTestNode(t, "a", nil)
	boom := errors.New("boom")
	trapper := spawnProbe(t, n, WithTrapExit())
	a := spawnWaiter(t, n, WithLink(trapper.pid))
	if err := n.Send(context.Background(), a, boom); err != nil {
		t.Fatal(err)
	}
	m := trapper.next(t)
	sig, ok := m.Body.(ExitSignal)
	if !ok || sig.From != a || !errors.Is(sig.Reason, boom) {
		t.Fatalf("got %#v, want ExitSignal from %s with boom", m.Body, a)
	}
	// A normal exit of a linked process is also delivered when trapping.
	b := spawnWaiter(t, n, WithLink(trapper.pid))
	_ = n.Send(context.Background(), b, "stop")
	if sig := trapper.next(t).Body.(ExitSignal); sig.From != b || !errors.Is(sig.Reason, Normal) {
		t.Fatalf("got %+v, want normal from %s", sig, b)
	}
	// Exit with a trappable reason becomes a message; Killed is untrappable.
	if err := n.Exit(trapper.pid, boom); err != nil {
		t.Fatal(err)
	}
	if sig := trapper.next(t).Body.(ExitSignal); !sig.From.IsZero() || !errors.Is(sig.Reason, boom) {
		t.Fatalf("got %+v", sig)
	}
	if err := n.Exit(trapper.pid, Normal); err != nil {
		t.Fatal(err)
	}
	if sig := trapper.next(t).Body.(ExitSignal); !errors.Is(sig.Reason, Normal) {
		t.Fatalf("got %+v", sig)
	}
	trapper.p.TrapExit(false)
	if err := n.Exit(trapper.pid, Normal); err != nil {
		t.Fatal(err)
	}
	if !n.Alive(trapper.pid) {
		t.Fatal("Exit(Normal) killed a live process")
	}
	if err := n.Exit(trapper.pid, Killed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "killed", func() error {
		if n.Alive(trapper.pid) {
			return errors.New("alive")
		}
		return nil
	})
	if err := n.Exit(trapper.pid, Killed); !errors.Is(err, ErrNoProc) {
		t.Fatalf("exit dead: %v", err)
	}
}

func TestUnlinkAndLinkErrors(t *testing.T) {
	n := newTestNode(t, "a", nil)
	pr := spawnProbe(t, n, WithTrapExit())
	a := spawnWaiter(t, n)
	if err := pr.p.Link(a); err != nil {
		t.Fatal(err)
	}
	if err := pr.p.Link(a); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := pr.p.Links(); len(got) != 1 || got[0] != a {
		t.Fatalf("links %v", got)
	}
	pr.p.Unlink(a)
	_ = n.Exit(a, errors.New("boom"))
	pr.none(t)
	if err := pr.p.Link(a); !errors.Is(err, ErrNoProc) {
		t.Fatalf("link to dead: %v", err)
	}
	if err := pr.p.Link(PID{}); !errors.Is(err, ErrNoProc) {
		t.Fatalf("link to zero: %v", err)
	}
	if err := pr.p.Link(pr.pid); err != nil {
		t.Fatalf("self link: %v", err)
	}
	if err := pr.p.Link(PID{Node: "b", Incarnation: 1, Serial: 1}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("remote without transport: %v", err)
	}
	if _, err := n.Spawn(func(context.Context, *Process) error { return nil }, WithLink(a)); !errors.Is(err, ErrNoProc) {
		t.Fatalf("spawn linked to dead: %v", err)
	}
}

// TestLinkChainsRace builds many linked chains and kills them concurrently
// with links being added and removed; run with -race.
func TestLinkChainsRace(t *testing.T) {
	n := newTestNode(t, "a", nil)
	const chains, length = 20, 20
	var wg sync.WaitGroup
	heads := make([]PID, chains)
	watch := spawnProbe(t, n)
	for c := 0; c < chains; c++ {
		prev := spawnWaiter(t, n)
		heads[c] = prev
		for i := 1; i < length; i++ {
			prev = spawnWaiter(t, n, WithLink(prev))
		}
		if _, err := watch.p.Monitor(prev); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	for c := 0; c < chains; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Exit(heads[c], boom)
		}()
	}
	wg.Wait()
	for c := 0; c < chains; c++ {
		if d := watch.down(t); !errors.Is(d.Reason, boom) {
			t.Fatalf("tail died with %v", d.Reason)
		}
	}
	waitFor(t, "all gone", func() error {
		if got := n.Processes(); got != 1 {
			return errors.New("processes left")
		}
		return nil
	})
}
