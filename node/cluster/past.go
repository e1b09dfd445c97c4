package cluster

import (
	"context"
	"time"

	"github.com/roster-dev/roster/global"
)

// purgeOwnPast removes the names of this node's earlier incarnations once
// the table accepts writes. A node is the authority on its own past: no two
// incarnations of one node id run at once (gossip refuses a second node
// with a live one's name), so every other incarnation of this id is dead.
// The controller could not tell such an incarnation from a newer one
// gossip has not reported yet, and leaves those alone (see staleOwner).
// It retries until it succeeds or the node stops.
func (n *Node) purgeOwnPast() {
	wait := 100 * time.Millisecond
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
		if !n.Healthy() {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		k, err := n.table.PurgeNodeExcept(ctx, n.ID(), n.Incarnation(), global.ReasonRestart)
		cancel()
		if err == nil {
			if k > 0 {
				n.Logger().Info("purged the names of this node's earlier incarnations", "names", k)
			}
			return
		}
		n.Logger().Debug("purging earlier incarnations' names failed; retrying", "error", err)
		wait = min(2*wait, 2*time.Second)
	}
}
