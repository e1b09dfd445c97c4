package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// RequireDockerEnv, set to 1, turns the compose test's skip (no Docker
// engine, ports taken) into a failure.
const RequireDockerEnv = "ROSTER_REQUIRE_DOCKER"

// TestCompose brings up the repository's docker-compose.yml (3 agents, lan
// profile, encrypted gossip) and drives it from the host over the
// published loopback ports: register, send and lookup; docker kill of an
// owner's container; docker restart (same volume); docker pause/unpause;
// docker network disconnect/connect. It prints the purge times. Without a
// reachable Docker engine (or with its ports taken) it skips, unless
// ROSTER_REQUIRE_DOCKER=1 (set by .ci/run), which makes it fail: CI must
// not pass on a machine where the lan-profile compose test never ran.
func TestCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and runs docker-compose")
	}
	if err := composeAvailable(); err != nil {
		if os.Getenv(RequireDockerEnv) == "1" {
			t.Fatalf("%s=1 but: %v", RequireDockerEnv, err)
		}
		t.Skip(err)
	}
	start := time.Now()
	c := newComposeCluster(t, start.UnixNano())
	if err := c.WaitHealthy(90 * time.Second); err != nil {
		t.Fatalf("compose cluster did not become healthy: %v", err)
	}
	t.Logf("up and healthy after %v", time.Since(start).Round(time.Millisecond))
	svcPID, svcFence := composeSendAndLookup(t, c)
	killPurge := composeKillOwner(t, c)
	live3, live3Fence := composeRestartKeeps(t, c, svcPID, svcFence)
	pausePurge := composePauseOwner(t, c, svcPID, svcFence)
	partPurge := composePartitionOwner(t, c, live3, live3Fence)
	t.Logf("SUMMARY docker-compose (lan profile): purge after docker kill %v, docker pause %v, network disconnect %v; whole test %v",
		killPurge.Round(time.Millisecond), pausePurge.Round(time.Millisecond), partPurge.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// composeSendAndLookup registers compose.svc on node2, sends to it by name
// from node1 and by pid from node3, reads both from node2's mailbox and
// looks the name up (leader-verified) on node3.
func composeSendAndLookup(t *testing.T, c *composeCluster) (string, float64) {
	t.Helper()
	ctx := context.Background()
	pid, fence, err := procRegister(ctx, c.API(1), "compose.svc")
	if err != nil {
		t.Fatal(err)
	}
	if err := procWaitName(ctx, c.apis, "compose.svc", pid, fence, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	a, err := c.API(0).expect(ctx, "POST", "/v1/names/compose.svc/messages", `{"from":"node1"}`, http.StatusAccepted)
	if err != nil || a.str("pid") != pid || a.Body["fence"] != fence {
		t.Fatalf("send by name from node1: %v %v", err, a.Body)
	}
	if _, err := c.API(2).expect(ctx, "POST", "/v1/processes/"+url.PathEscape(pid)+"/messages", `"direct"`, http.StatusAccepted); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	err = WaitFor(15*time.Second, func() error {
		bodies, err := c.API(1).poll(ctx, pid, time.Second)
		if err != nil {
			return err
		}
		for _, b := range bodies {
			raw, _ := json.Marshal(b)
			got[string(raw)] = true
		}
		if !got[`{"from":"node1"}`] || !got[`"direct"`] {
			return fmt.Errorf("mailbox so far %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err = c.API(2).expect(ctx, "GET", "/v1/names/compose.svc?consistent=1", "", http.StatusOK)
	if err != nil || a.str("pid") != pid {
		t.Fatalf("consistent lookup on node3: %v %v", err, a.Body)
	}
	return pid, fence
}

// composeRestartKeeps: docker restart node1 (same volume) keeps the names
// of live owners on node2 (compose.svc) and node3 (compose.live3, which it
// registers and returns) on every replica; node1's own process, gone with
// the container, loses its name.
func composeRestartKeeps(t *testing.T, c *composeCluster, svcPID string, svcFence float64) (string, float64) {
	t.Helper()
	ctx := context.Background()
	live3, live3Fence, err := procRegister(ctx, c.API(2), "compose.live3")
	if err != nil {
		t.Fatal(err)
	}
	on1PID, _, err := procRegister(ctx, c.API(0), "compose.on1")
	if err != nil {
		t.Fatal(err)
	}
	if err := procWaitName(ctx, c.apis, "compose.on1", on1PID, 0, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after docker restart node1: %v", err)
	}
	t.Logf("docker restart node1: healthy again after %v", time.Since(restarted).Round(time.Millisecond))
	for _, n := range []struct {
		name, pid string
		fence     float64
	}{{"compose.svc", svcPID, svcFence}, {"compose.live3", live3, live3Fence}} {
		if err := procWaitName(ctx, c.apis, n.name, n.pid, n.fence, 20*time.Second); err != nil {
			t.Errorf("live owner's name after docker restart node1: %v", err)
		}
	}
	if _, err := procWaitGone(ctx, c.apis, "compose.on1", restarted, 20*time.Second); err != nil {
		t.Errorf("node1's old process's name: %v", err)
	}

	return live3, live3Fence
}

// composeKillOwner: docker kill of node3 owning compose.kill; the name
// leaves node1 and node2; docker start brings node3 back (same volume)
// without the name.
func composeKillOwner(t *testing.T, c *composeCluster) time.Duration {
	t.Helper()
	ctx := context.Background()
	pid, fence, err := procRegister(ctx, c.API(2), "compose.kill")
	if err != nil {
		t.Fatal(err)
	}
	survivors := c.apis[:2]
	if err := procWaitName(ctx, survivors, "compose.kill", pid, fence, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	cli := time.Since(start) // included in the figure: the fault lands before the command returns
	d, err := procWaitGone(ctx, survivors, "compose.kill", start, 30*time.Second)
	if err != nil {
		t.Fatalf("name of the killed container's process: %v", err)
	}
	t.Logf("docker kill node3: its name gone from node1 and node2 after %v (the docker command took %v)", d.Round(time.Millisecond), cli.Round(time.Millisecond))
	if err := c.Start(2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after docker start node3: %v", err)
	}
	if _, err := procWaitGone(ctx, c.apis, "compose.kill", start, 15*time.Second); err != nil {
		t.Errorf("restarted node3: %v", err)
	}
	return d
}

// composePauseOwner: docker pause of node2 owning compose.svc; the name
// leaves node1 and node3; after unpause the cluster is healthy and the
// owning process is told it lost the name.
func composePauseOwner(t *testing.T, c *composeCluster, pid string, fence float64) time.Duration {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	if err := c.Pause(1); err != nil {
		t.Fatal(err)
	}
	cli := time.Since(start) // included in the figure: the fault lands before the command returns
	d, err := procWaitGone(ctx, []*procAPI{c.API(0), c.API(2)}, "compose.svc", start, 30*time.Second)
	if err != nil {
		_ = c.Unpause(1)
		t.Fatalf("name of the paused container's process: %v", err)
	}
	t.Logf("docker pause node2: its name gone from node1 and node3 after %v (the docker command took %v)", d.Round(time.Millisecond), cli.Round(time.Millisecond))
	if err := c.Unpause(1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after docker unpause node2: %v", err)
	}
	t.Logf("node2 told: %v", procWaitLost(t, c.API(1), pid, "compose.svc", fence))
	return d
}

// composePartitionOwner: node3, owning compose.live3, is disconnected from
// the network; the majority purges the name and still registers; after
// reconnecting node3 catches up and its process is told.
func composePartitionOwner(t *testing.T, c *composeCluster, pid string, fence float64) time.Duration {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	if err := c.Disconnect(2); err != nil {
		t.Fatal(err)
	}
	cli := time.Since(start) // included in the figure: the fault lands before the command returns
	majority := c.apis[:2]
	d, err := procWaitGone(ctx, majority, "compose.live3", start, 30*time.Second)
	if err != nil {
		_ = c.Connect(2)
		t.Fatalf("name of the partitioned node's process: %v", err)
	}
	t.Logf("network disconnect node3: its name gone from node1 and node2 after %v (the docker command took %v)", d.Round(time.Millisecond), cli.Round(time.Millisecond))
	mPID, mFence, err := procRegister(ctx, c.API(0), "compose.majority")
	if err != nil {
		_ = c.Connect(2)
		t.Fatalf("the majority cannot register during the partition: %v", err)
	}
	if err := c.Connect(2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after network connect node3: %v", err)
	}
	if err := procWaitName(ctx, c.apis, "compose.majority", mPID, mFence, 20*time.Second); err != nil {
		t.Errorf("node3 did not catch up: %v", err)
	}
	t.Logf("node3 told: %v", procWaitLost(t, c.API(2), pid, "compose.live3", fence))
	return d
}
