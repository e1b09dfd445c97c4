package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/roster-dev/roster/local"
)

// spawnMembers spawns k processes in Groups() under key that count what
// they get and never read otherwise (so mailboxes fill when blocked).
func spawnMembers(t *testing.T, n *Node, key string, k int) []PID {
	t.Helper()
	pids := make([]PID, k)
	for i := range pids {
		pids[i] = spawnServer(t, n, func(m Message) any { return i }, WithVia(n.Groups(), key, nil))
	}
	return pids
}

func TestPoolStrategies(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := callCtx(t)
	spawnMembers(t, n, "workers", 4)
	rr := Pool{Registry: n.Groups(), Key: "workers", Strategy: NewRoundRobin()}
	seen := map[int]int{}
	for range 8 {
		got, err := CallAs[int](ctx, n, rr, "which")
		if err != nil {
			t.Fatal(err)
		}
		seen[got]++
	}
	if len(seen) != 4 || seen[0] != 2 || seen[3] != 2 {
		t.Fatalf("round robin spread %v", seen)
	}
	random := Pool{Registry: n.Groups(), Key: "workers"}
	seen = map[int]int{}
	for range 200 {
		got, err := CallAs[int](ctx, n, random, "which")
		if err != nil {
			t.Fatal(err)
		}
		seen[got]++
	}
	if len(seen) != 4 {
		t.Fatalf("random spread %v", seen)
	}
	// Hash: one key, one member, stable.
	first, err := n.PickMember(Pool{Registry: n.Groups(), Key: "workers", Strategy: HashKey("user-42")})
	if err != nil {
		t.Fatal(err)
	}
	spread := map[PID]bool{}
	for i := range 100 {
		p, _ := n.PickMember(Pool{Registry: n.Groups(), Key: "workers", Strategy: HashKey("user-42")})
		if p != first {
			t.Fatal("hash pick moved without a membership change")
		}
		q, _ := n.PickMember(Pool{Registry: n.Groups(), Key: "workers", Strategy: HashKey(fmt.Sprint("k", i))})
		spread[q] = true
	}
	if len(spread) < 3 {
		t.Fatalf("hash spreads 100 keys over %d members", len(spread))
	}
	// Removing another member leaves the key where it was.
	for _, e := range n.Groups().Lookup("workers") {
		if e.PID != first {
			_ = n.Exit(e.PID, Killed)
			break
		}
	}
	if p, _ := n.PickMember(Pool{Registry: n.Groups(), Key: "workers", Strategy: HashKey("user-42")}); p != first {
		t.Fatal("hash pick moved when another member left")
	}
	if err := n.Send(ctx, Pool{Registry: n.Groups(), Key: "none"}, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty pool: %v", err)
	}
	if _, err := n.Call(ctx, Pool{Registry: n.Groups(), Key: "none"}, 1); !errors.Is(err, NoProc) {
		t.Fatalf("call to an empty pool: %v", err)
	}
	if err := n.Send(ctx, Pool{Key: "none"}, 1); !errors.Is(err, ErrBadDest) {
		t.Fatalf("pool without a registry: %v", err)
	}
}

func TestPoolLeastLoaded(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := callCtx(t)
	var busy []PID
	for range 3 {
		pid, err := n.Spawn(func(ctx context.Context, p *Process) error { <-ctx.Done(); return nil }, WithVia(n.Groups(), "ll", nil))
		if err != nil {
			t.Fatal(err)
		}
		busy = append(busy, pid)
	}
	pool := Pool{Registry: n.Groups(), Key: "ll", Strategy: LeastLoaded{}}
	for range 9 {
		if err := n.Send(ctx, pool, "job"); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range busy {
		if info, err := n.ProcessInfo(pid); err != nil || info.MessageQueueLen != 3 {
			t.Fatalf("least loaded: %s has %+v %v, want 3 each", pid, info, err)
		}
	}
	var _ Strategy = badStrategy{}
	if _, err := n.PickMember(Pool{Registry: n.Groups(), Key: "ll", Strategy: badStrategy{}}); !errors.Is(err, ErrBadDest) {
		t.Fatalf("out-of-range pick: %v", err)
	}
}

type badStrategy struct{}

func (badStrategy) Pick([]local.Entry[PID], func(PID) int) int { return 99 }
