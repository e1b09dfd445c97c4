package cluster

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestProcPauseOwner: SIGSTOP of the node owning a global name purges the
// name on the others (target ≤ 5 s with the fast profile, printed); after
// SIGCONT the node rejoins, the owning process, still alive, is told it
// lost the name (cnode.GlobalNameLost rendered as JSON in its mailbox), its
// own replica drops the name, and the cluster is healthy again. First a
// follower owns the name, then (after the follower was restarted) the
// leader.
func TestProcPauseOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	follower := (c.Leader(ctx) + 1) % c.Size()
	df, pid := procPauseAndMeasure(t, c, follower, "paused-follower")
	t.Run("resumed node registers again", func(t *testing.T) {
		procResumedRegisters(t, c.API(follower), pid)
	})
	// Heal the resumed node the way an operator must today: restart it.
	if err := c.Kill(follower); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(follower); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restarting %s: %v", c.Name(follower), err)
	}
	dl, _ := procPauseAndMeasure(t, c, c.Leader(ctx), "paused-leader")
	t.Logf("SUMMARY SIGSTOP purge, fast profile: follower owner %v, leader owner %v (target <= 5s)",
		df.Round(time.Millisecond), dl.Round(time.Millisecond))
}

// procPauseAndMeasure registers name for a process on owner, SIGSTOPs
// owner, measures until the others drop the name, SIGCONTs it and checks
// the cluster heals and the process is told. It returns the purge time and
// the owning pid.
func procPauseAndMeasure(t *testing.T, c *procCluster, owner int, name string) (time.Duration, string) {
	t.Helper()
	ctx := context.Background()
	if owner < 0 {
		t.Fatal("no agreed leader")
	}
	api := c.API(owner)
	pid, fence, err := procRegister(ctx, api, name)
	if err != nil {
		t.Fatal(err)
	}
	survivors := c.apis(c.others(owner))
	if err := procWaitName(ctx, survivors, name, pid, fence, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Pause(owner); err != nil {
		t.Fatal(err)
	}
	d, err := procWaitGone(ctx, survivors, name, start, procPurgeBound)
	if err != nil {
		t.Fatalf("name of paused %s: %v", c.Name(owner), err)
	}
	t.Logf("SIGSTOP %s: %s gone from the others after %v", c.Name(owner), name, d.Round(time.Millisecond))
	resumed := time.Now()
	if err := c.Resume(owner); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
	t.Logf("healthy %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))
	t.Logf("owner told: %v", procWaitLost(t, api, pid, name, fence))
	if _, err := procWaitGone(ctx, []*procAPI{api}, name, resumed, 10*time.Second); err != nil {
		t.Fatalf("resumed %s's replica: %v", c.Name(owner), err)
	}
	return d, pid
}

// procResumedRegisters checks that a node resumed after its names were
// purged can register global names again: the surviving owner takes its
// name back, a new process registers another.
func procResumedRegisters(t *testing.T, api *procAPI, pid string) {
	ctx := context.Background()
	// Give the leader time to see the node alive and revive its incarnation.
	err := WaitFor(15*time.Second, func() error {
		a, err := api.register(ctx, "paused-follower", pid)
		if err != nil || a.Status != http.StatusCreated {
			return fmt.Errorf("re-register by the surviving owner: %v %d %v", err, a.Status, a.Body)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if _, _, err := procRegister(ctx, api, "after-resume"); err != nil {
		t.Errorf("a process spawned after SIGCONT: %v", err)
	}
}

// procWaitLost long-polls pid's mailbox until a GlobalNameLost for name
// with the given fence arrives (rendered {"name_lost":{"name","fence",
// "reason"}}) and returns it; other messages (name_suspect, ...) are logged.
func procWaitLost(t *testing.T, api *procAPI, pid, name string, fence float64) map[string]any {
	t.Helper()
	var lost map[string]any
	err := WaitFor(20*time.Second, func() error {
		bodies, err := api.poll(context.Background(), pid, time.Second)
		if err != nil {
			return err
		}
		for _, b := range bodies {
			outer, _ := b.(map[string]any)
			m, _ := outer["name_lost"].(map[string]any)
			if m["name"] == name && m["reason"] != nil {
				if m["fence"] != fence {
					return fmt.Errorf("lost message for fence %v, registered %v", m["fence"], fence)
				}
				lost = m
				return nil
			}
			t.Logf("owner's mailbox: %v", b)
		}
		return fmt.Errorf("no name-lost message for %s yet", name)
	})
	if err != nil {
		t.Fatalf("owner %s: %v", pid, err)
	}
	return lost
}
