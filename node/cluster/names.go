package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/membership"
)

// ErrNotClustered: a cluster operation on a node built without
// Config.Cluster.
var ErrNotClustered = errors.New("node: not a cluster node (Config.Cluster is nil)")

func (n *Node) clusterOrErr() (*cluster, error) {
	if n.cl == nil {
		return nil, ErrNotClustered
	}
	return n.cl, nil
}

// checkOwner refuses a pid that is not a live process of this node: a node
// registers global names only for its own processes, so that it can
// unregister them when they exit.
func (n *Node) checkOwner(pid PID) error {
	if !n.isLocal(pid) {
		return fmt.Errorf("%w: %s", ErrNotLocal, pid)
	}
	if !n.Alive(pid) {
		return fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	return nil
}

// RegisterGlobal registers name cluster-wide for pid, a live process of
// this node, with an optional small meta value. It returns once a Raft
// quorum has committed it; the Registration's Fence is the commit index.
// A taken name fails with *global.AlreadyRegisteredError (errors.Is
// global.ErrAlreadyRegistered) carrying the owner; a minority side fails
// with global.ErrNoQuorum by ctx's deadline; global.ErrOutcomeUnknown means
// leadership was lost mid-commit and the name may or may not be held (look
// it up). The name goes when pid exits.
func (n *Node) RegisterGlobal(ctx context.Context, name string, pid PID, meta []byte) (global.Registration, error) {
	return n.registerGlobal(ctx, name, pid, meta, false)
}

// ReRegisterGlobal points name at pid whoever holds it now (like
// :global.re_register_name); the previous owner gets NameLost with reason
// "conflict" if it is a process of this cluster.
func (n *Node) ReRegisterGlobal(ctx context.Context, name string, pid PID, meta []byte) (global.Registration, error) {
	return n.registerGlobal(ctx, name, pid, meta, true)
}

func (n *Node) registerGlobal(ctx context.Context, name string, pid PID, meta []byte, re bool) (global.Registration, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return global.Registration{}, err
	}
	if err := global.ValidateName(name); err != nil {
		return global.Registration{}, err
	}
	if err := n.checkOwner(pid); err != nil {
		return global.Registration{}, err
	}
	if err := c.exits.attach(pid); err != nil {
		return global.Registration{}, err
	}
	var reg global.Registration
	if re {
		reg, err = c.table.ReRegister(ctx, name, pid, meta)
	} else {
		reg, err = c.table.Register(ctx, name, pid, meta)
	}
	if err != nil {
		return reg, err
	}
	c.owned.add(reg)
	if !n.Alive(pid) {
		// It exited while the write was in flight, perhaps before the
		// exit hook could see the name: make sure the name goes.
		c.exits.enqueue(pid)
	}
	return reg, nil
}

// UnregisterGlobal removes name if pid owns it (global.ErrNotOwner if not,
// global.ErrNotFound if nobody does).
func (n *Node) UnregisterGlobal(ctx context.Context, name string, pid PID) error {
	c, err := n.clusterOrErr()
	if err != nil {
		return err
	}
	if err := global.ValidateName(name); err != nil {
		return err
	}
	r, had := c.owned.forget(name)
	err = c.table.Unregister(ctx, name, pid)
	if err != nil && had && r.Owner == pid && !errors.Is(err, global.ErrNotFound) {
		c.owned.add(r) // still ours
	}
	return err
}

// LookupGlobal returns name's registration. By default it reads this
// node's replica (no network; ReadInfo says how stale it may be); pass
// global.Consistent for a leader-verified, linearizable read bounded by ctx.
func (n *Node) LookupGlobal(ctx context.Context, name string, opts ...global.ReadOption) (global.Registration, global.ReadInfo, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return global.Registration{}, global.ReadInfo{}, err
	}
	return c.table.Lookup(name, append(opts, global.WithContext(ctx))...)
}

// ListGlobal returns the names starting with prefix, sorted.
func (n *Node) ListGlobal(ctx context.Context, prefix string, opts ...global.ReadOption) ([]global.Registration, global.ReadInfo, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return nil, global.ReadInfo{}, err
	}
	return c.table.List(prefix, append(opts, global.WithContext(ctx))...)
}

// WatchGlobal streams registration changes of names starting with prefix,
// from fromIndex (0: from now). See global.Table.Watch.
func (n *Node) WatchGlobal(ctx context.Context, prefix string, fromIndex uint64) (<-chan global.Event, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return nil, err
	}
	return c.table.Watch(ctx, prefix, fromIndex)
}

// GlobalTable returns the node's global name table for operations the
// node does not wrap (ForceUnregister, Stats, Configuration), or nil.
func (n *Node) GlobalTable() *global.Table {
	if n.cl == nil {
		return nil
	}
	return n.cl.table
}

// Join contacts gossip seeds (host:port) and returns how many answered.
func (n *Node) Join(ctx context.Context, seeds []string) (int, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return 0, err
	}
	return c.ml.Join(ctx, seeds)
}

// Leave leaves the cluster gracefully and shuts the node down: this
// incarnation's global names are purged at once (reason node_left),
// Raft leadership is handed over if held, gossip announces the departure
// (the leader removes this server from Raft), then Shutdown.
func (n *Node) Leave(ctx context.Context) error {
	var err error
	if n.cl != nil {
		err = n.cl.leave(ctx)
	}
	return errors.Join(err, n.Shutdown(ctx))
}

// Members returns the cluster's members as gossip sees them (nil when not
// clustered).
func (n *Node) Members() []membership.Member {
	if n.cl == nil {
		return nil
	}
	return n.cl.ml.Members()
}

// ClusterStatus is a snapshot of a node's view of the cluster.
type ClusterStatus struct {
	Node        NodeID
	Incarnation uint64
	Leader      NodeID
	LeaderAddr  string
	RaftState   string
	Term        uint64
	LastIndex   uint64
	CommitIndex uint64
	Applied     uint64
	// LastContact is how long ago the leader was last heard from (0 on the
	// leader, negative if never).
	LastContact time.Duration
	Servers     []global.Server
	Members     []membership.Member
	Names       int
	Processes   int
	Stats       ClusterStats
}

// Status returns the node's cluster status (ErrNotClustered without one).
func (n *Node) Status() (ClusterStatus, error) {
	c, err := n.clusterOrErr()
	if err != nil {
		return ClusterStatus{}, err
	}
	st := c.table.Stats()
	leader, addr := c.table.Leader()
	servers, _ := c.table.Configuration()
	return ClusterStatus{
		Node: n.id, Incarnation: n.inc, Leader: leader, LeaderAddr: addr,
		RaftState: st.State.String(), Term: st.Term, LastIndex: st.LastIndex, CommitIndex: st.CommitIndex,
		Applied: st.AppliedIndex, LastContact: st.LastContact, Servers: servers,
		Members: c.ml.Members(), Names: st.Names, Processes: n.Processes(), Stats: c.stats.snapshot(),
	}, nil
}

// Healthy reports whether the node serves: it is clustered, a leader is
// known, and (on a follower) the leader was heard from recently.
func (n *Node) Healthy() bool {
	if n.cl == nil {
		return false
	}
	leader, _ := n.cl.table.Leader()
	if leader == "" {
		return false
	}
	st := n.cl.table.Stats()
	return st.State == raft.Leader || (st.LastContact >= 0 && st.LastContact < 5*time.Second)
}

// GossipAddr returns the address (host:port) other nodes join this node
// at, or "" when not clustered.
func (n *Node) GossipAddr() string {
	if n.cl == nil {
		return ""
	}
	return n.cl.ml.Addr()
}
