package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/transport"
)

// One election in the fast profile (raft TimingFast: heartbeat and
// election timeouts 300 ms): a follower notices a silent leader within
// 2 x 300 ms, and a candidate's randomised election timer is at most
// 2 x 300 ms, so one election costs at most 1.2 s. procWriteGapBudget
// allows one election plus the same again for two loaded cores and HTTP
// round trips; procRollingDown keeps each voter away longer than that, so
// a cluster that stalled for a voter's absence fails the budget.
const (
	procOneElection    = 1200 * time.Millisecond
	procWriteGapBudget = 2 * procOneElection
	procRollingDown    = 3 * time.Second
)

// TestProcRollingRestart restarts every voter in turn (SIGTERM, down for
// procRollingDown, restart with the same data dir, wait for health) while
// clients keep registering and looking up names. Writes are never
// unavailable longer than one election (procWriteGapBudget, measured as
// the longest time with no acknowledged registration anywhere); no
// acknowledged registration of a live owner is lost: every name whose
// owner's node incarnation is still the current one is on every replica
// with its pid and fence; the names of owners that died with their node's
// restart are purged; lookups never show another owner; the cluster is
// healthy with three voters at the end.
func TestProcRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	seed := time.Now().UnixNano()
	t.Logf("workload seed %d", seed)
	c := newProcCluster(t, procOptions{})
	w := startProcWorkload(c, 2, seed)
	start := time.Now()
	rounds := 1
	if procSoak() {
		rounds = 5
	}
	for range rounds {
		err := c.RollingRestart(procRollingDown, 60*time.Second, func(i int) {
			acks, failed, _, _ := w.snapshot()
			t.Logf("%s restarted at %v: %d acknowledged, %d not", c.Name(i), time.Since(start).Round(time.Millisecond), len(acks), failed)
		})
		if err != nil {
			w.stop()
			t.Fatal(err)
		}
	}
	end := time.Now()
	gap, at := w.longestWriteGap(start, end)
	t.Logf("MEASURE longest write unavailability during the rolling restart: %v (from %v after the start; budget %v, one election %v; machine load makes this noisy)",
		gap.Round(time.Millisecond), at.Sub(start).Round(time.Millisecond), procWriteGapBudget, procOneElection)
	if gap > procWriteGapBudget {
		t.Errorf("no registration was acknowledged for %v (from %v after the start): longer than one election (budget %v)",
			gap.Round(time.Millisecond), at.Sub(start).Round(time.Millisecond), procWriteGapBudget)
	}
	w.stop()
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	acks, failed, lookups, violations := w.snapshot()
	for _, v := range violations {
		t.Error(v)
	}
	live, dead := procCheckAcks(t, c, acks)
	procCheckVoters(t, c)
	t.Logf("SUMMARY %d rolling restart(s) of 3 voters in %v: %d registrations acknowledged (%d live owners kept, %d dead owners purged), %d not acknowledged, %d lookups, %d violations, longest write gap %v",
		rounds, time.Since(start).Round(time.Millisecond), len(acks), live, dead, failed, lookups, len(violations), gap.Round(time.Millisecond))
}

// procCheckAcks checks every acknowledged registration after the restarts:
// a name whose owner's incarnation is its node's current one is on every
// replica with its pid and fence, any other is purged. It returns how many
// of each it checked.
func procCheckAcks(t *testing.T, c *procCluster, acks []procAck) (live, dead int) {
	t.Helper()
	ctx := context.Background()
	current := map[transport.NodeID]uint64{}
	for i := range c.Size() {
		pid, err := c.API(i).spawn(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		p, err := transport.ParsePID(pid)
		if err != nil {
			t.Fatal(err)
		}
		current[p.Node] = p.Incarnation
	}
	all := c.apis([]int{0, 1, 2})
	for _, a := range acks {
		if a.PID.Incarnation == current[a.PID.Node] {
			live++
			if err := procWaitName(ctx, all, a.Name, a.PID.String(), a.Fence, 10*time.Second); err != nil {
				t.Errorf("acknowledged name of a live owner: %v", err)
			}
		} else {
			dead++
			if _, err := procWaitGone(ctx, all, a.Name, time.Now(), 10*time.Second); err != nil {
				t.Errorf("name of an owner that died with its node: %v", err)
			}
		}
	}
	if live == 0 || dead == 0 {
		t.Errorf("workload too thin to judge: %d live-owner names, %d dead-owner names", live, dead)
	}
	return live, dead
}

// procCheckVoters checks every node reports all nodes as Raft voters.
func procCheckVoters(t *testing.T, c *procCluster) {
	t.Helper()
	err := WaitFor(20*time.Second, func() error {
		for i := range c.Size() {
			st, err := c.API(i).status(context.Background())
			if err != nil {
				return err
			}
			if v, _ := st["voters"].([]any); len(v) != c.Size() {
				return fmt.Errorf("%s reports voters %v", c.Name(i), st["voters"])
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
