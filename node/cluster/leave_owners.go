package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// stopNameOwners is Leave's step for the local processes that hold global
// names (singletons were stopped before): each is told GlobalNameLost with
// reason node_left, then sent an exit signal with reason Shutdown, and
// stopNameOwners waits until all are gone or ctx ends. Their exits
// unregister their names; Leave's purge removes whatever is left.
func (n *Node) stopNameOwners(ctx context.Context) error {
	regs := n.owned.snapshot()
	owners := map[node.PID]bool{}
	for _, r := range regs {
		if !n.Alive(r.Owner) {
			continue
		}
		_ = n.Send(ctx, r.Owner, GlobalNameLost{Name: r.Name, Fence: r.Fence, Reason: global.ReasonNodeLeft})
		owners[r.Owner] = true
	}
	for pid := range owners {
		_ = n.Exit(pid, node.Shutdown)
	}
	for {
		left := 0
		for pid := range owners {
			if n.Alive(pid) {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d owners of global names still running: %w", left, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
