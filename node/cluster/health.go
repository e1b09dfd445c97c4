package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/roster-dev/roster/node"
)

// healthPoll is how often WaitHealthy looks at Healthy.
const healthPoll = 10 * time.Millisecond

// WaitHealthy waits until the node serves (Healthy: a leader is known and,
// on a follower, was heard from recently), so that global registrations
// and lookups made next find a working cluster. It returns nil once
// healthy, ctx's error (with the last status seen) if ctx ends first, and
// node.ErrShutdown if the node stops meanwhile. Typical use, after Start:
//
//	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
//	defer cancel()
//	if err := n.WaitHealthy(ctx); err != nil { ... }
func (n *Node) WaitHealthy(ctx context.Context) error {
	t := time.NewTicker(healthPoll)
	defer t.Stop()
	for {
		if n.Healthy() {
			return nil
		}
		select {
		case <-t.C:
		case <-n.ctx.Done():
			return fmt.Errorf("cluster: wait healthy: %w", node.ErrShutdown)
		case <-ctx.Done():
			leader, _ := n.table.Leader()
			return fmt.Errorf("cluster: wait healthy (leader %q): %w", leader, ctx.Err())
		}
	}
}
