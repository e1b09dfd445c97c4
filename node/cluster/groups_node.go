package cluster

import (
	"context"
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// The Node's process-group methods work on DefaultGroupScope; GroupScope
// returns another scope (Config.Groups.Scopes). See GroupScope's methods
// for each one's contract. (Node.Groups, from the embedded runtime, is the
// node-local duplicate registry; ListGroups lists the cluster-wide groups.)

// GroupScope returns the named scope (ErrGroupUnknownScope if
// Config.Groups.Scopes does not name it).
func (n *Node) GroupScope(name string) (*GroupScope, error) { return n.groups.scope(name) }

func (n *Node) defaultScope() *GroupScope { return n.groups.list[0] }

// JoinGroup adds local process pid to group (see GroupScope.JoinGroup).
func (n *Node) JoinGroup(group string, pid node.PID, meta []byte) error {
	return n.defaultScope().JoinGroup(group, pid, meta)
}

// LeaveGroup undoes one JoinGroup (see GroupScope.LeaveGroup).
func (n *Node) LeaveGroup(group string, pid node.PID) error {
	return n.defaultScope().LeaveGroup(group, pid)
}

// UpdateGroupMeta replaces a local member's metadata.
func (n *Node) UpdateGroupMeta(group string, pid node.PID, meta []byte) error {
	return n.defaultScope().UpdateGroupMeta(group, pid, meta)
}

// GroupMembers returns group's members on every node, as this node sees
// them (a shared slice: do not modify it).
func (n *Node) GroupMembers(group string) []GroupMember {
	return n.defaultScope().GroupMembers(group)
}

// LocalGroupMembers returns group's members on this node.
func (n *Node) LocalGroupMembers(group string) []GroupMember {
	return n.defaultScope().LocalGroupMembers(group)
}

// GroupMemberCount returns how many processes are members of group.
func (n *Node) GroupMemberCount(group string) int { return n.defaultScope().GroupMemberCount(group) }

// ListGroups lists the groups with members (see GroupScope.ListGroups).
func (n *Node) ListGroups(prefix, after string, limit int) ([]GroupInfo, bool) {
	return n.defaultScope().ListGroups(prefix, after, limit)
}

// MonitorGroup watches one group (see GroupScope.MonitorGroup).
func (n *Node) MonitorGroup(ctx context.Context, group string) (*GroupMonitor, []GroupMember, error) {
	return n.defaultScope().MonitorGroup(ctx, group)
}

// MonitorGroupPrefix watches every group with a prefix.
func (n *Node) MonitorGroupPrefix(ctx context.Context, prefix string) (*GroupMonitor, error) {
	return n.defaultScope().MonitorGroupPrefix(ctx, prefix)
}

// Publish sends msg to every member of group (see GroupScope.Publish).
func (n *Node) Publish(ctx context.Context, group string, msg any) (int, error) {
	return n.defaultScope().Publish(ctx, group, msg)
}

// PublishLocal sends msg to group's members on this node.
func (n *Node) PublishLocal(ctx context.Context, group string, msg any) (int, error) {
	return n.defaultScope().PublishLocal(ctx, group, msg)
}

// MultiCall calls every member of group (see GroupScope.MultiCall).
func (n *Node) MultiCall(ctx context.Context, group string, req any) ([]GroupReply, error) {
	return n.defaultScope().MultiCall(ctx, group, req)
}

// SendToMember sends msg to one member chosen by strategy.
func (n *Node) SendToMember(ctx context.Context, group string, strategy GroupStrategy, key string, msg any) (node.PID, error) {
	return n.defaultScope().SendToMember(ctx, group, strategy, key, msg)
}

// GroupMetrics are the process groups' counters, for the daemon's metrics.
type GroupMetrics struct {
	Groups, LocalMembers, RemoteMembers int // summed over scopes
	SyncBytesOut, SyncBytesIn           uint64
	DeltaBytesOut, DeltaBytesIn         uint64
	SyncsOut, SyncsIn                   uint64
	Rejected                            uint64 // peer frames refused
	Overflows                           uint64 // per-peer queues that overflowed into a resync
	PublishDropped                      uint64 // publish items lost with a failed frame
	// LastConvergence and MaxConvergence are how long peers took to
	// accept a full sync once one was needed (a peer appeared, healed,
	// or diverged): the last one and the worst since start.
	LastConvergence, MaxConvergence time.Duration
}

// GroupMetrics returns the process groups' counters.
func (n *Node) GroupMetrics() GroupMetrics { return n.groups.metrics() }

func (e *groupEngine) metrics() GroupMetrics {
	m := GroupMetrics{
		SyncBytesOut: e.stats.syncBytesOut.Load(), SyncBytesIn: e.stats.syncBytesIn.Load(),
		DeltaBytesOut: e.stats.deltaBytesOut.Load(), DeltaBytesIn: e.stats.deltaBytesIn.Load(),
		SyncsOut: e.stats.syncsOut.Load(), SyncsIn: e.stats.syncsIn.Load(),
		Rejected: e.stats.rejected.Load(), Overflows: e.stats.overflows.Load(),
		PublishDropped:  e.stats.pubDropped.Load(),
		LastConvergence: time.Duration(e.stats.lastLagNanos.Load()),
		MaxConvergence:  time.Duration(e.stats.maxLagNanos.Load()),
	}
	for _, s := range e.list {
		st := s.Stats()
		m.Groups += st.Groups
		m.LocalMembers += st.LocalMembers
		m.RemoteMembers += st.RemoteMembers
	}
	return m
}

// groupConfig is Config.Groups with the profile's defaults.
func (c *Config) groupConfig() GroupConfig {
	g := c.Groups
	d := c.Profile.timings().groups
	if g.Linger <= 0 {
		g.Linger = d.Linger
	}
	if g.Heartbeat <= 0 {
		g.Heartbeat = d.Heartbeat
	}
	if g.RetryMin <= 0 {
		g.RetryMin = d.RetryMin
	}
	if g.RetryMax <= 0 {
		g.RetryMax = d.RetryMax
	}
	if g.CallTimeout <= 0 {
		g.CallTimeout = d.CallTimeout
	}
	if g.Reconcile <= 0 {
		g.Reconcile = d.Reconcile
	}
	return g
}

// reconcileGroups periodically makes the groups' peers match gossip's
// live members (a missed event must not leave a ghost or a gap).
func (n *Node) reconcileGroups() {
	t := time.NewTicker(n.groups.cfg.Reconcile)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		alive := make(map[node.NodeID]uint64)
		for _, m := range n.ml.Members() {
			if (m.State == membership.StateAlive || m.State == membership.StateSuspect) && m.Meta.Incarnation != 0 && m.Meta.Transport != "" {
				alive[m.Meta.Node] = m.Meta.Incarnation
			}
		}
		n.groups.reconcile(alive)
	}
}
