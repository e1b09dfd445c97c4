package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// FailoverProbeName is the global name MeasureFailover and WaitConverged
// write. Workloads must not use it.
const FailoverProbeName = "chaos-failover-probe"

// MeasureFailover waits, up to bound, until the running nodes agree on a
// leader and a write through it is accepted again, and returns the time
// since start (when the fault began).
func (c *Cluster) MeasureFailover(ctx context.Context, start time.Time, bound time.Duration) (time.Duration, error) {
	err := WaitFor(bound, func() error {
		_, err := c.probeWrite(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// probeWrite re-registers FailoverProbeName once the running nodes agree
// on a leader: through the leader's probe process, or, if that fails (a
// node whose incarnation was purged while it was cut off can no longer
// register), through each other running node in turn.
func (c *Cluster) probeWrite(ctx context.Context) (global.Registration, error) {
	if err := ctx.Err(); err != nil {
		return global.Registration{}, err
	}
	l, err := c.agreedLeader()
	if err != nil {
		return global.Registration{}, err
	}
	order := append([]int{l}, slices.DeleteFunc(c.Running(), func(i int) bool { return i == l })...)
	var errs []error
	for _, i := range order {
		reg, err := c.probeWriteOn(ctx, i)
		if err == nil {
			return reg, nil
		}
		errs = append(errs, err)
	}
	return global.Registration{}, errors.Join(errs...)
}

func (c *Cluster) probeWriteOn(ctx context.Context, i int) (global.Registration, error) {
	nd := c.Node(i)
	if nd == nil {
		return global.Registration{}, fmt.Errorf("%w: %d", ErrNodeDown, i)
	}
	pid, err := c.probeProcess(nd)
	if err != nil {
		return global.Registration{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return nd.ReRegisterGlobal(wctx, FailoverProbeName, pid, nil)
}

// probeProcess returns nd's probe process, spawning it on first use.
func (c *Cluster) probeProcess(nd *cnode.Node) (node.PID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pid, ok := c.probes[nd]; ok && nd.Alive(pid) {
		return pid, nil
	}
	pid, err := nd.Spawn(func(ctx context.Context, _ *node.Process) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		return node.PID{}, err
	}
	c.probes[nd] = pid
	return pid, nil
}
