// Package testhook carries the clustered node's test seams (fault-injecting
// gossip, Raft and transport networks, and config tuning) from a test
// harness to package node/cluster without putting them in the public
// cluster.Config. Being internal, only this module's packages (test/cluster,
// node/cluster's own tests) can import it; production wiring never goes
// through it.
//
// Package node/cluster registers its constructor here when it is linked
// in; a harness builds a node with
//
//	n, err := testhook.NewCluster[cluster.Config, *cluster.Node](cfg, testhook.Cluster{...})
package testhook

import (
	"errors"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// Cluster holds the seams of one clustered node. Zero fields mean the real
// thing.
type Cluster struct {
	// GossipTransport replaces memberlist's UDP+TCP transport.
	GossipTransport memberlist.Transport
	// RaftStreamLayer replaces Raft's TCP listener and dialer.
	RaftStreamLayer raft.StreamLayer
	// Transport adjusts the node transport's config last (e.g. its
	// Listener and Dialer).
	Transport func(*transport.Config)
	// Global adjusts the global table's config last.
	Global func(*global.Config)
	// Gossip adjusts the membership config last.
	Gossip func(*membership.Config)
}

// newCluster is node/cluster's constructor with seams, a
// func(C, Cluster) (N, error) stored as any (this package cannot name
// node/cluster's types without an import cycle).
var newCluster atomic.Value

// ErrNotLinked: NewCluster was called in a binary without node/cluster.
var ErrNotLinked = errors.New("testhook: node/cluster is not linked in")

// SetNewCluster is called by node/cluster's init with its constructor.
func SetNewCluster[C, N any](f func(C, Cluster) (N, error)) { newCluster.Store(f) }

// NewCluster builds a clustered node from cfg with the seams of h.
func NewCluster[C, N any](cfg C, h Cluster) (N, error) {
	f, ok := newCluster.Load().(func(C, Cluster) (N, error))
	if !ok {
		var zero N
		return zero, ErrNotLinked
	}
	return f(cfg, h)
}
