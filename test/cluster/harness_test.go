package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
)

func spawnIdle(t *testing.T, nd *cnode.Node) node.PID {
	t.Helper()
	pid, err := nd.Spawn(func(ctx context.Context, p *node.Process) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestHarnessPartitionKillRestart drives the harness's faults against a
// 3-node cluster: a minority cannot register, the majority can; a killed
// node's names are purged; a restarted node rejoins on its old ports and
// data dir and serves writes again.
func TestHarnessPartitionKillRestart(t *testing.T) {
	c := New(t, Options{Nodes: 3})
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	minority := (l + 1) % 3
	c.Partition([]int{minority})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err = c.Node(minority).RegisterGlobal(ctx, "m", spawnIdle(t, c.Node(minority)), nil)
	cancel()
	if err == nil || !(errors.Is(err, global.ErrNoQuorum) || errors.Is(err, global.ErrOutcomeUnknown)) {
		t.Fatalf("minority register: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Node(l).RegisterGlobal(ctx, "maj", spawnIdle(t, c.Node(l)), nil); err != nil {
		t.Fatalf("majority register: %v", err)
	}
	c.Heal()

	victim := (l + 2) % 3
	if _, err := c.Node(victim).RegisterGlobal(ctx, "doomed", spawnIdle(t, c.Node(victim)), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := WaitFor(15*time.Second, func() error {
		for _, i := range c.Running() {
			if _, _, err := c.Node(i).LookupGlobal(ctx, "doomed"); !errors.Is(err, global.ErrNotFound) {
				return fmt.Errorf("node %d still has doomed (%v)", i, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node's name purged in %v", time.Since(start))
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(10*time.Second, func() error {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		defer wcancel()
		_, err := c.Node(victim).RegisterGlobal(wctx, "back", spawnIdle(t, c.Node(victim)), nil)
		return err
	}); err != nil {
		t.Fatalf("restarted node cannot register: %v", err)
	}
	if _, _, err := c.Node(victim).LookupGlobal(ctx, "maj", global.Consistent); err != nil {
		t.Fatalf("restarted node lost a committed name: %v", err)
	}
}
