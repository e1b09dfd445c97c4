package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestProcRestartKeepsNames: kill -9 of a node and a restart with the same
// data directory and ports. The committed names of live owners on other
// nodes stay, the dead process's name goes, names registered while the
// node was down reach it (it catches up from its disk and the leader), and
// it serves writes with its new incarnation.
func TestProcRestartKeepsNames(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	target := c.Leader(ctx) // the harder case: raft must elect and the old leader catch up
	if target < 0 {
		t.Fatal("no agreed leader")
	}
	others := c.others(target)
	type reg struct {
		name, pid string
		fence     float64
	}
	var live []reg
	register := func(i int, name string) {
		pid, fence, err := procRegister(ctx, c.API(i), name)
		if err != nil {
			t.Fatalf("register %s on %s: %v", name, c.Name(i), err)
		}
		live = append(live, reg{name, pid, fence})
	}
	register(others[0], "before-a")
	register(others[1], "before-b")
	deadPID, _, err := procRegister(ctx, c.API(target), "on-target")
	if err != nil {
		t.Fatal(err)
	}
	if err := procWaitName(ctx, c.apis(others), "on-target", deadPID, 0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Kill(target); err != nil {
		t.Fatal(err)
	}
	if _, err := procWaitGone(ctx, c.apis(others), "on-target", start, procPurgeBound); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(30*time.Second, func() error { return c.healthy(ctx) }); err != nil {
		t.Fatalf("the two survivors: %v", err)
	}
	register(others[0], "while-down-a")
	register(others[1], "while-down-b")
	if err := c.Restart(target); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	t.Logf("%s back and healthy %v after kill -9", c.Name(target), time.Since(start).Round(time.Millisecond))
	all := c.apis([]int{0, 1, 2})
	for _, r := range live {
		if err := procWaitName(ctx, all, r.name, r.pid, r.fence, 20*time.Second); err != nil {
			t.Errorf("live owner's name after the restart: %v", err)
		}
	}
	procCheckRestarted(t, c, target, start)
}

// procCheckRestarted checks node i after its kill -9 at start and restart:
// the killed process's name stays gone, i caught up with the leader and
// registers with its new incarnation.
func procCheckRestarted(t *testing.T, c *procCluster, i int, start time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := procWaitGone(ctx, c.apis([]int{0, 1, 2}), "on-target", start, 10*time.Second); err != nil {
		t.Errorf("the killed process's name came back: %v", err)
	}
	procCheckCaughtUp(t, c, i)
	if _, _, err := procRegister(ctx, c.API(i), "after-restart"); err != nil {
		t.Errorf("restarted node cannot register: %v", err)
	}
}

// procCheckCaughtUp waits until node i has applied the leader's last index
// as read once now.
func procCheckCaughtUp(t *testing.T, c *procCluster, i int) {
	t.Helper()
	ctx := context.Background()
	l := c.Leader(ctx)
	if l < 0 {
		t.Fatal("no agreed leader")
	}
	st, err := c.API(l).status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := procRaftIndex(st, "last_index")
	err = WaitFor(20*time.Second, func() error {
		st, err := c.API(i).status(ctx)
		if err != nil {
			return err
		}
		if got := procRaftIndex(st, "applied_index"); got < want {
			return fmt.Errorf("%s applied %v < leader's last index %v", c.Name(i), got, want)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// procRaftIndex reads raft.<key> from a /v1/status answer.
func procRaftIndex(st map[string]any, key string) float64 {
	r, _ := st["raft"].(map[string]any)
	v, _ := r[key].(float64)
	return v
}
