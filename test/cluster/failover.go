package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/roster-dev/roster/node"
)

// FailoverProbeName is the global name MeasureFailover writes. Workloads
// must not use it.
const FailoverProbeName = "chaos-failover-probe"

// MeasureFailover waits, up to bound, until the running nodes agree on a
// leader and a write through one of them is accepted again, and returns
// the time since start (when the fault began). The write re-registers
// FailoverProbeName for a fresh process of a running node.
func (c *Cluster) MeasureFailover(ctx context.Context, start time.Time, bound time.Duration) (time.Duration, error) {
	err := WaitFor(bound, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := c.agreedLeader()
		if err != nil {
			return err
		}
		nd := c.Node(l)
		if nd == nil {
			return fmt.Errorf("leader %d went down", l)
		}
		pid, err := nd.Spawn(func(ctx context.Context, _ *node.Process) error {
			<-ctx.Done()
			return nil
		})
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = nd.ReRegisterGlobal(wctx, FailoverProbeName, pid, nil)
		return err
	})
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
