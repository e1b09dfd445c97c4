package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// procPurgeBound is the generous bound asserted on purge times; the
// figures themselves (fast profile: median ≤ 2 s kill -9, ≤ 5 s SIGSTOP)
// are printed, not asserted, since two loaded cores stretch them.
const procPurgeBound = 15 * time.Second

// others returns the indexes of c's nodes except i.
func (c *procCluster) others(i int) []int {
	var out []int
	for j := range c.nodes {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

// TestProcKillOwnerPurge: kill -9 of the node owning a global name makes
// the name disappear from the survivors' replicas. Several runs, rotating
// the owner (sometimes the leader); the figure is printed.
func TestProcKillOwnerPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	runs := 4
	if procSoak() {
		runs = 20
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	var all, followers []time.Duration
	for r := range runs {
		owner := c.Leader(ctx) // even runs kill the leader, odd runs a follower
		if owner < 0 {
			t.Fatal("no agreed leader")
		}
		if r%2 == 1 {
			owner = (owner + 1 + r/2%2) % c.Size()
		}
		d := procKillAndMeasure(t, c, owner, fmt.Sprintf("kill-%d", r))
		t.Logf("run %d: kill -9 %s (leader %v): name gone from both survivors after %v", r, c.Name(owner), r%2 == 0, d.Round(time.Millisecond))
		all = append(all, d)
		if r%2 == 1 {
			followers = append(followers, d)
		}
	}
	t.Logf("SUMMARY kill -9 purge, fast profile, 3 agents: all %v; follower owners %v (issue 5 target: median <= 2s)",
		procSummarise(all), procSummarise(followers))
	// The fast profile's documented median is 1.40 s (README, Figures); a
	// lan-profile purge takes ~7 s. A median over fastPurgeMedianMax means
	// the agents did not run the fast profile's timings, whatever the
	// per-run bound (procPurgeBound) allowed.
	if m := median(all); m > fastPurgeMedianMax {
		t.Errorf("fast-profile purge median %v > %v (documented 1.40 s): not the fast profile's timings", m, fastPurgeMedianMax)
	}
}

// Profile medians the purge tests assert, with a margin for -race on two
// busy cores over the documented figures (fast 1.40 s, lan 6.96 s).
const (
	fastPurgeMedianMax = 3 * time.Second
	lanPurgeMin        = 4 * time.Second
	lanPurgeMax        = 14 * time.Second
)

// median of ds (the upper one for an even count); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// procKillAndMeasure registers name on owner, kills it, measures until the
// survivors drop the name, restarts owner and waits for a healthy cluster.
func procKillAndMeasure(t *testing.T, c *procCluster, owner int, name string) time.Duration {
	t.Helper()
	ctx := context.Background()
	pid, fence, err := procRegister(ctx, c.API(owner), name)
	if err != nil {
		t.Fatal(err)
	}
	survivors := c.apis(c.others(owner))
	if err := procWaitName(ctx, survivors, name, pid, fence, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Kill(owner); err != nil {
		t.Fatal(err)
	}
	d, err := procWaitGone(ctx, survivors, name, start, procPurgeBound)
	if err != nil {
		t.Fatalf("%s owned by killed %s: %v", name, c.Name(owner), err)
	}
	if err := c.Restart(owner); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restarting %s: %v", c.Name(owner), err)
	}
	if _, err := procWaitGone(ctx, c.apis([]int{owner}), name, start, 10*time.Second); err != nil {
		t.Fatalf("restarted %s still holds its dead process's name: %v", c.Name(owner), err)
	}
	return d
}

// TestProcLanProfilePurge measures the default (lan) profile's kill -9
// purge once (the documented ~7 s figure) and checks it is the lan
// profile's: slower than the fast profile could be, within the documented
// bound. It takes ~15 s and runs in CI: the lan profile is the default.
func TestProcLanProfilePurge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{Profile: "lan"})
	owner := (c.Leader(context.Background()) + 1) % c.Size()
	d := procKillAndMeasure(t, c, owner, "lan-kill")
	t.Logf("SUMMARY kill -9 purge, lan profile, 3 agents: %v (documented 6.96 s)", d.Round(time.Millisecond))
	if d < lanPurgeMin || d > lanPurgeMax {
		t.Errorf("lan-profile purge took %v, outside [%v, %v] around the documented 6.96 s", d, lanPurgeMin, lanPurgeMax)
	}
}
