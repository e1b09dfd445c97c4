package cluster

import (
	"context"
	"errors"

	"github.com/roster-dev/roster/node/membership"
)

// Join contacts gossip seeds (host:port) and returns how many answered.
func (n *Node) Join(ctx context.Context, seeds []string) (int, error) {
	return n.ml.Join(ctx, seeds)
}

// Leave leaves the cluster gracefully and shuts the node down: this
// incarnation's global names are purged at once (reason node_left),
// Raft leadership is handed over if held, gossip announces the departure
// (the leader removes this server from Raft), then Shutdown.
func (n *Node) Leave(ctx context.Context) error {
	return errors.Join(n.leave(ctx), n.Shutdown(ctx))
}

// Members returns the cluster's members as gossip sees them.
func (n *Node) Members() []membership.Member { return n.ml.Members() }

// GossipAddr returns the address (host:port) other nodes join this node
// at.
func (n *Node) GossipAddr() string { return n.ml.Addr() }
