package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestStressMonitorsLinksExits runs random sends, monitors, links and
// exits from several goroutines across two nodes (fake transport), then
// kills everything and checks that every monitor fired exactly once and
// that no process is left. Run with -race. The seed is printed on failure.
func TestStressMonitorsLinksExits(t *testing.T) {
	const seed = 20261123
	t.Logf("seed %d", seed)
	_, a, b := pair(t)
	nodes := []*Node{a, b}

	// Refs are unique per node, so a monitor is keyed by the watcher's node
	// and its ref.
	type refKey struct {
		node *Node
		ref  Ref
	}
	var mu sync.Mutex
	downs := map[refKey]int{}
	expected := map[refKey]bool{}
	var watchers [][]PID
	for _, n := range nodes {
		var ws []PID
		for i := 0; i < 3; i++ {
			pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
				for {
					m, err := p.Receive(ctx)
					if err != nil {
						return nil
					}
					if d, ok := m.Body.(Down); ok {
						mu.Lock()
						downs[refKey{p.Node(), d.Ref}]++
						mu.Unlock()
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, pid)
		}
		watchers = append(watchers, ws)
	}
	var workers []PID
	for _, n := range nodes {
		for i := 0; i < 30; i++ {
			workers = append(workers, spawnWaiter(t, n))
		}
	}

	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for step := 0; step < 300; step++ {
				ni := rng.IntN(2)
				n := nodes[ni]
				w := workers[rng.IntN(len(workers))]
				switch rng.IntN(4) {
				case 0:
					watcher := watchers[ni][rng.IntN(3)]
					ref, err := n.Monitor(watcher, w)
					if err != nil {
						t.Errorf("monitor: %v", err)
						return
					}
					mu.Lock()
					expected[refKey{n, ref}] = true
					mu.Unlock()
				case 1:
					_ = n.Send(context.Background(), w, fmt.Errorf("crash %d", step))
				case 2:
					if p := n.lookup(workers[rng.IntN(len(workers))]); p != nil {
						_ = p.Link(w)
					}
				case 3:
					_ = n.Exit(w, Killed)
				}
			}
		}()
	}
	wg.Wait()
	for _, w := range workers {
		for _, n := range nodes {
			if w.Node == n.ID() {
				_ = n.Exit(w, Killed)
			}
		}
	}
	waitFor(t, "every monitor fired", func() error {
		mu.Lock()
		defer mu.Unlock()
		missing := 0
		for k := range expected {
			if downs[k] == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d monitors have no Down", missing, len(expected))
		}
		return nil
	})
	mu.Lock()
	for k, c := range downs {
		if c != 1 || !expected[k] {
			t.Errorf("node %s ref %d: %d Downs (monitor expected: %v)", k.node.ID(), k.ref, c, expected[k])
		}
	}
	mu.Unlock()
	for _, n := range nodes {
		waitFor(t, "only watchers left", func() error {
			if got := n.Processes(); got != 3 {
				return fmt.Errorf("%s has %d processes", n.ID(), got)
			}
			return nil
		})
		n.monMu.Lock()
		left := len(n.mons)
		n.monMu.Unlock()
		if left != 0 {
			t.Errorf("%s: %d monitor records leaked", n.ID(), left)
		}
	}
	if t.Failed() {
		t.Logf("replay with seed %d", seed)
	}
}

func TestRemoteToFullMailboxIsDropped(t *testing.T) {
	_, a, b := pair(t)
	full := spawnWaiterNoRecv(t, b, WithMailbox(MailboxConfig{Limit: 1}))
	ok := spawnProbe(t, b)
	before := b.Stats().Dropped
	for i := 0; i < 3; i++ {
		if err := a.Send(context.Background(), full.pid, i); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Send(context.Background(), ok.pid, "marker") // same connection: arrives after the three
	ok.next(t)
	if got := b.Stats().Dropped - before; got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
	if full.p.Len() != 1 {
		t.Fatalf("mailbox holds %d", full.p.Len())
	}
}

func TestSelectiveReceiveSurvivesDropOldest(t *testing.T) {
	var mb mailbox
	mb.init(MailboxConfig{Limit: 4, Policy: DropOldest})
	got := make(chan Message, 1)
	errc := make(chan error, 1)
	for i := 0; i < 4; i++ {
		mb.push(Message{Body: i})
	}
	go func() {
		m, err := mb.receive(context.Background(), func(m Message) bool { return m.Body == "want" })
		if err != nil {
			errc <- err
			return
		}
		got <- m
	}()
	// The receiver has scanned 0..3; drops shift the queue under it.
	waitFor(t, "receiver waiting", func() error {
		mb.mu.Lock()
		defer mb.mu.Unlock()
		if !mb.waiting {
			return errors.New("not waiting")
		}
		return nil
	})
	for i := 4; i < 7; i++ {
		mb.push(Message{Body: i})
	}
	mb.push(Message{Body: "want"})
	select {
	case m := <-got:
		if m.Body != "want" {
			t.Fatalf("got %v", m.Body)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("selective receive missed the match after drops")
	}
	if mb.len() != 3 {
		t.Fatalf("left %d, want 3 (4..6 minus the dropped)", mb.len())
	}
}
