package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	cnode "github.com/roster-dev/roster/node/cluster"
)

// TestSingletonFailover measures how long a singleton goes without an
// instance: kill of the instance's node (cut off at once, as kill -9 looks
// to the others) until a successor runs, several times (median printed
// against the fast profile's 2 s target), then a graceful Leave (target
// 200 ms). Overlaps fail the test; the times are printed, not asserted,
// beyond a generous bound.
func TestSingletonFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("kills nodes several times")
	}
	c := New(t, Options{Nodes: 3})
	h := NewHistory()
	ilog := NewInstanceLog(h)
	start := func(i int) {
		nd := c.Node(i)
		if _, err := nd.StartSingleton(context.Background(), cnode.SingletonSpec{Name: "failover", Run: recordingSingleton(ilog, "failover", nd)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.Size() {
		start(i)
	}
	runningOn := func() (int, int64, error) {
		ilog.mu.Lock()
		defer ilog.mu.Unlock()
		for _, r := range ilog.runs {
			if r.stop < 0 {
				for i := range c.Size() {
					if c.ID(i) == r.node {
						return i, r.start, nil
					}
				}
			}
		}
		return -1, 0, fmt.Errorf("no instance running")
	}
	waitRunning := func(after int64) (int, int64) {
		t.Helper()
		var slot int
		var at int64
		if err := WaitFor(20*time.Second, func() error {
			i, st, err := runningOn()
			if err != nil || st <= after {
				return fmt.Errorf("no new instance yet (%v)", err)
			}
			slot, at = i, st
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return slot, at
	}
	owner, _ := waitRunning(-1)
	var kills []time.Duration
	for range 5 {
		killedAt := h.Now()
		stopped, err := c.KillAsync(owner)
		if err != nil {
			t.Fatal(err)
		}
		next, at := waitRunning(killedAt)
		kills = append(kills, time.Duration(at-killedAt))
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(owner); err != nil {
			t.Fatal(err)
		}
		start(owner)
		if err := c.WaitConverged(context.Background(), 20*time.Second); err != nil {
			t.Fatal(err)
		}
		owner = next
	}
	leftAt := h.Now()
	if err := c.Node(owner).Leave(context.Background()); err != nil {
		t.Fatalf("leave: %v", err)
	}
	_, at := waitRunning(leftAt)
	leave := time.Duration(at - leftAt)
	overlaps, _, fences, _ := ilog.Check(h.Now(), time.Hour)
	slices.Sort(kills)
	t.Logf("SUMMARY singleton failover, fast profile, 3 nodes: kill -> successor running: median %v (all %v; target median <= 2s); graceful leave -> successor running %v (target <= 200ms); overlaps %d",
		kills[len(kills)/2].Round(time.Millisecond), durs(kills), leave.Round(time.Millisecond), len(overlaps))
	if len(overlaps) > 0 || len(fences) > 0 {
		t.Fatalf("overlapping instances %v, fences not growing %v", overlaps, fences)
	}
}
