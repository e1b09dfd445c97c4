package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// KnownBugsEnv names the environment variable that runs the tests of
// known, reported daemon bugs (they fail until fixed).
const KnownBugsEnv = "ROSTER_KNOWN_BUGS"

// TestProcPauseOwner: SIGSTOP of the node owning a global name purges the
// name on the others (target ≤ 5 s with the fast profile, printed); after
// SIGCONT the node rejoins, the owning process, still alive, is told it
// lost the name (node.GlobalNameLost rendered as JSON in its mailbox), its
// own replica drops the name, and the cluster is healthy again.
func TestProcPauseOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	owner := (c.Leader(ctx) + 1) % c.Size() // a follower: the figure is the purge alone
	api := c.API(owner)
	pid, fence, err := procRegister(ctx, api, "paused-owner")
	if err != nil {
		t.Fatal(err)
	}
	survivors := c.apis(c.others(owner))
	if err := procWaitName(ctx, survivors, "paused-owner", pid, fence, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Pause(owner); err != nil {
		t.Fatal(err)
	}
	d, err := procWaitGone(ctx, survivors, "paused-owner", start, procPurgeBound)
	if err != nil {
		t.Fatalf("name of paused %s: %v", c.Name(owner), err)
	}
	t.Logf("SUMMARY SIGSTOP purge, fast profile: %v (target <= 5s)", d.Round(time.Millisecond))
	resumed := time.Now()
	if err := c.Resume(owner); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
	t.Logf("healthy %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))
	lost := procWaitLost(t, api, pid, "paused-owner", fence)
	t.Logf("owner told: %v", lost)
	if _, err := procWaitGone(ctx, []*procAPI{api}, "paused-owner", resumed, 10*time.Second); err != nil {
		t.Fatalf("resumed %s's replica: %v", c.Name(owner), err)
	}
	t.Run("resumed node registers again", func(t *testing.T) {
		if os.Getenv(KnownBugsEnv) == "" {
			t.Skipf("KNOWN BUG (set %s=1 to run): after SIGCONT the node's incarnation stays purged; "+
				"/v1/health says ok but every PUT /v1/names for its processes, old or newly spawned, "+
				"answers 404 noproc (global.ErrOwnerGone) until the agent is restarted", KnownBugsEnv)
		}
		// Give the node time to notice and heal (it has none today).
		err := WaitFor(15*time.Second, func() error {
			a, err := api.register(ctx, "paused-owner", pid)
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
	})
}

// procWaitLost long-polls pid's mailbox until a GlobalNameLost for name
// with the given fence arrives (rendered {"Name","Fence","Reason"}) and
// returns it; other messages (GlobalNameSuspect, ...) are logged.
func procWaitLost(t *testing.T, api *procAPI, pid, name string, fence float64) map[string]any {
	t.Helper()
	var lost map[string]any
	err := WaitFor(20*time.Second, func() error {
		bodies, err := api.poll(context.Background(), pid, time.Second)
		if err != nil {
			return err
		}
		for _, b := range bodies {
			m, _ := b.(map[string]any)
			if m["Name"] == name && m["Reason"] != nil {
				if m["Fence"] != fence {
					return fmt.Errorf("lost message for fence %v, registered %v", m["Fence"], fence)
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
