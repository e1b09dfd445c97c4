package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// table is what the controller needs of the global name table and its
// Raft: *global.Table as it is (the controller's tests use a fake).
// Methods may block up to ctx's deadline; the controller calls them from
// its goroutine only.
type table interface {
	HasState() bool
	Bootstrap(servers []global.Server) error
	IsLeader() bool
	Configuration() ([]global.Server, error)
	AddVoter(ctx context.Context, id node.NodeID, addr string) error
	AddNonvoter(ctx context.Context, id node.NodeID, addr string) error
	RemoveServer(ctx context.Context, id node.NodeID, addr string) error
	PurgeIncarnation(ctx context.Context, id node.NodeID, inc uint64, why global.Reason) (int, error)
	PurgeNodeExcept(ctx context.Context, id node.NodeID, keep uint64, why global.Reason) (int, error)
	// Owners returns the (node, incarnation) pairs that own names, from
	// the FSM's owner index: O(nodes), not O(names). The leader calls it
	// once per reconcile interval.
	Owners() map[node.NodeID][]uint64
	IsPurged(id node.NodeID, inc uint64) bool
	ReviveIncarnation(ctx context.Context, id node.NodeID, inc uint64) (bool, error)
	// LastLeaseGrant is when this leader last granted id a lease (see
	// lease.go); ok is false on a follower.
	LastLeaseGrant(id node.NodeID) (time.Time, bool)
}

var _ table = (*global.Table)(nil)

// controllerMetrics receives the controller's measurements. nil fields
// are skipped.
type controllerMetrics struct {
	// Purged is called after a purge with the reason, the number of names
	// removed and the time since the node was last known alive.
	Purged func(why global.Reason, names int, sinceLastContact time.Duration)
	// Members is called after every change with the count per state.
	Members func(byState map[membership.State]int)
}

// controllerConfig configures a controller.
type controllerConfig struct {
	// Self is this node's id.
	Self node.NodeID
	// Expect is bootstrap-expect: the number of servers that form the
	// cluster (3 or 5; 1 for -dev). 0 means this node never bootstraps and
	// waits to be added by a leader.
	Expect int
	// PurgeGrace is how long after memberlist declares a node dead its names
	// are purged. A node that comes back alive with the same incarnation
	// within the grace keeps them. Default: the profile's (lan 2s, fast 250ms).
	PurgeGrace time.Duration
	// ReconcileInterval is how often the leader compares the name table
	// with membership to purge what events missed. Default 30s (fast: 5s).
	ReconcileInterval time.Duration
	// ReconcileGrace is how long the leader waits, after it gains
	// leadership, before purging the names of a node it has never seen
	// alive (it may simply not have gossiped yet). Default 10s (fast 3s).
	ReconcileGrace time.Duration
	// UnseenGrace is how long a node must have been dead or gone before the
	// leader purges the names of one of its incarnations that gossip never
	// showed (one gossip did show is purged after PurgeGrace). Such an
	// incarnation may be a restart whose alive message has not arrived
	// yet, so it waits longer. Default 30s (fast: 9s).
	UnseenGrace time.Duration
	// DeadServerGrace is how long a voter must be dead before the leader
	// removes it from the Raft configuration (never when that would lose
	// quorum). Long, so that a brief partition does not churn the
	// configuration. Default 10m (fast 1m).
	DeadServerGrace time.Duration
	// SettleTime is how long the set of servers seen must stay unchanged
	// before bootstrap-expect bootstraps. Default 2s (fast 500ms).
	SettleTime time.Duration
	// HintWindow is how recent a transport break (peerHooks.LastContact) must be, at
	// the time gossip declares the node dead, for the purge grace to count
	// from it rather than from the verdict. Older breaks are stale news.
	// Default 30s (fast: 5s): longer than failure detection takes.
	HintWindow time.Duration
	// LeaseWait is how long after its last lease grant to a node (or this
	// leader's start) the leader waits before purging that node's names as
	// dead: by then any lease-bound work there (singletons, leaderships)
	// has stopped (lease.go). 0: no wait.
	LeaseWait time.Duration
	// Timeout bounds each Raft operation. Default 5s.
	Timeout time.Duration

	// Profile supplies the defaults of the durations above.
	Profile Profile

	Table   table
	Hooks   peerHooks
	Metrics controllerMetrics
	Logger  hclog.Logger
}

// validate fills the zero durations from c.Profile's timings (profile.go)
// and checks c.
func (c *controllerConfig) validate() error {
	if c.Table == nil || c.Hooks == nil {
		return fmt.Errorf("%w: controller needs a Table and Hooks", ErrBadConfig)
	}
	if c.Expect < 0 {
		return fmt.Errorf("%w: bootstrap-expect %d < 0", ErrBadConfig, c.Expect)
	}
	t := c.Profile.timings()
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PurgeGrace, t.purgeGrace)
	def(&c.ReconcileInterval, t.reconcileInterval)
	def(&c.ReconcileGrace, t.reconcileGrace)
	def(&c.DeadServerGrace, t.deadServerGrace)
	def(&c.UnseenGrace, t.unseenGrace)
	def(&c.SettleTime, t.settleTime)
	def(&c.Timeout, t.opTimeout)
	def(&c.HintWindow, t.hintWindow)
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}
