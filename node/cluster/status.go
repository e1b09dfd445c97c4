package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// ClusterStatus is a snapshot of a node's view of the cluster.
type ClusterStatus struct {
	Node        node.NodeID
	Incarnation uint64
	Leader      node.NodeID
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

// Status returns the node's cluster status.
func (n *Node) Status() (ClusterStatus, error) {
	st := n.table.Stats()
	leader, addr := n.table.Leader()
	servers, _ := n.table.Configuration()
	return ClusterStatus{
		Node: n.ID(), Incarnation: n.Incarnation(), Leader: leader, LeaderAddr: addr,
		RaftState: st.State.String(), Term: st.Term, LastIndex: st.LastIndex, CommitIndex: st.CommitIndex,
		Applied: st.AppliedIndex, LastContact: st.LastContact, Servers: servers,
		Members: n.ml.Members(), Names: st.Names, Processes: n.Processes(), Stats: n.stats.snapshot(),
	}, nil
}

// Healthy reports whether the node serves: a leader is known, and (on a
// follower) the leader was heard from recently.
func (n *Node) Healthy() bool {
	leader, _ := n.table.Leader()
	if leader == "" {
		return false
	}
	st := n.table.Stats()
	return st.State == raft.Leader || (st.LastContact >= 0 && st.LastContact < 5*time.Second)
}
