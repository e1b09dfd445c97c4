package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// PurgeReason says why the controller purges a node's names. The values
// match the global table's event reasons.
type PurgeReason string

// Purge reasons.
const (
	PurgeNodeDown PurgeReason = "node_down" // memberlist declared it dead
	PurgeNodeLeft PurgeReason = "node_left" // it left gracefully
	PurgeRestart  PurgeReason = "restart"   // it came back with a new incarnation
)

// Server is a Raft server: its node id, Raft address and whether it votes.
type Server struct {
	ID      transport.NodeID
	Address string
	Voter   bool
}

// Table is what the controller needs from the global name table and its
// Raft. node adapts *global.Table to it. Methods may block up to ctx's
// deadline; they are called from the controller's goroutine only.
type Table interface {
	// HasState reports whether this node has Raft state (log, snapshot or
	// configuration) on disk.
	HasState() bool
	// Bootstrap starts a new cluster with exactly servers. Only called when
	// HasState is false.
	Bootstrap(servers []Server) error
	// IsLeader reports whether this node is the Raft leader now.
	IsLeader() bool
	// Servers returns the current Raft configuration.
	Servers() ([]Server, error)
	AddVoter(ctx context.Context, id transport.NodeID, addr string) error
	AddNonvoter(ctx context.Context, id transport.NodeID, addr string) error
	RemoveServer(ctx context.Context, id transport.NodeID) error
	// PurgeIncarnation removes every name owned by (node, incarnation).
	PurgeIncarnation(ctx context.Context, node transport.NodeID, inc uint64, why PurgeReason) (int, error)
	// PurgeNodeExcept removes every name owned by node under any incarnation
	// but keep.
	PurgeNodeExcept(ctx context.Context, node transport.NodeID, keep uint64, why PurgeReason) (int, error)
	// Owners returns the (node, incarnation) pairs that own names in the
	// local replica.
	Owners() map[transport.NodeID][]uint64
	// IsPurged reports whether (node, inc) is marked purged in the local
	// replica (its registrations are refused).
	IsPurged(node transport.NodeID, inc uint64) bool
	// Revive clears the purged mark of (node, inc): it was declared dead
	// but is alive, so its processes may register again.
	Revive(ctx context.Context, node transport.NodeID, inc uint64) error
}

// Hooks are told about peers as gossip sees them. node implements them to
// point its transport at peers and to fire DOWN for a dead node's
// processes. Called from the controller's goroutine; must not block long.
type Hooks interface {
	// PeerAlive: meta is the peer's current meta (address or incarnation may
	// be new).
	PeerAlive(meta Meta)
	// PeerGone: the peer's incarnation inc is dead (dead=true) or left.
	PeerGone(id transport.NodeID, inc uint64, dead bool)
}

// Metrics receives the controller's measurements. nil fields are skipped.
type Metrics struct {
	// Purged is called after a purge with the reason, the number of names
	// removed and the time since the node was last known alive.
	Purged func(why PurgeReason, names int, sinceLastContact time.Duration)
	// Members is called after every change with the count per state.
	Members func(byState map[State]int)
}

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	// Self is this node's id.
	Self transport.NodeID
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
	// DeadServerGrace is how long a voter must be dead before the leader
	// removes it from the Raft configuration (never when that would lose
	// quorum). Long, so that a brief partition does not churn the
	// configuration. Default 10m (fast 1m).
	DeadServerGrace time.Duration
	// SettleTime is how long the set of servers seen must stay unchanged
	// before bootstrap-expect bootstraps. Default 2s (fast 500ms).
	SettleTime time.Duration
	// HintWindow is how recent a transport break (ContactHooks) must be, at
	// the time gossip declares the node dead, for the purge grace to count
	// from it rather than from the verdict. Older breaks are stale news.
	// Default 30s (fast: 5s): longer than failure detection takes.
	HintWindow time.Duration
	// Timeout bounds each Raft operation. Default 5s.
	Timeout time.Duration

	Table   Table
	Hooks   Hooks
	Metrics Metrics
	Logger  hclog.Logger
}

// Validate fills defaults for profile p and checks c.
func (c *ControllerConfig) Validate(p Profile) error {
	if c.Table == nil || c.Hooks == nil {
		return fmt.Errorf("%w: controller needs a Table and Hooks", ErrInvalidConfig)
	}
	if c.Expect < 0 {
		return fmt.Errorf("%w: bootstrap-expect %d < 0", ErrInvalidConfig, c.Expect)
	}
	fast := p == ProfileFast
	def := func(d *time.Duration, lan, fastV time.Duration) {
		if *d <= 0 {
			*d = lan
			if fast {
				*d = fastV
			}
		}
	}
	def(&c.PurgeGrace, ProfileLAN.PurgeGrace(), ProfileFast.PurgeGrace())
	def(&c.ReconcileInterval, 30*time.Second, 5*time.Second)
	def(&c.ReconcileGrace, 10*time.Second, 3*time.Second)
	def(&c.DeadServerGrace, 10*time.Minute, time.Minute)
	def(&c.SettleTime, 2*time.Second, 500*time.Millisecond)
	def(&c.Timeout, 5*time.Second, 5*time.Second)
	def(&c.HintWindow, 30*time.Second, 5*time.Second)
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}
