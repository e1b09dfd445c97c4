package cluster

import (
	"context"
	"testing"
	"time"
)

// TestLeaderKillFailover kills the leader three times (restarting it in
// between) and measures the time until a new leader accepts writes. The
// target with the fast profile is ≤ 3 s; the test prints the times and
// asserts only recovery within a generous bound.
func TestLeaderKillFailover(t *testing.T) {
	c := New(t, Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var times []time.Duration
	for round := 0; round < 3; round++ {
		l, err := c.WaitLeader(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.probeWrite(ctx); err != nil {
			t.Fatalf("write before the kill: %v", err)
		}
		start := time.Now()
		if err := c.Kill(l); err != nil {
			t.Fatal(err)
		}
		d, err := c.MeasureFailover(ctx, start, 20*time.Second)
		if err != nil {
			t.Fatalf("round %d: no new leader accepting writes: %v", round, err)
		}
		times = append(times, d)
		if err := c.Restart(l); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitHealthy(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("failover (leader kill → new leader accepted a write), fast profile, target ≤ 3s: %s", durs(times))
}
