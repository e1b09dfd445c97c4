package cluster

import (
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// peerHooks are told about peers as gossip sees them. Called from the
// controller's goroutine; they must not block long. clusterHooks is the
// real one; the controller's tests record the calls.
type peerHooks interface {
	// PeerAlive: meta is the peer's current meta (address or incarnation may
	// be new).
	PeerAlive(meta membership.Meta)
	// PeerGone: the peer's incarnation inc is dead (dead=true) or left.
	PeerGone(id node.NodeID, inc uint64, dead bool)
	// LastContact: when the transport lost its connection to id, if it is
	// still down (an early hint of the peer's death).
	LastContact(id node.NodeID) (time.Time, bool)
}

// clusterHooks points the transport at peers and fires DOWN for the
// processes of nodes that are gone.
type clusterHooks struct{ n *Node }

var _ peerHooks = clusterHooks{}

func (h clusterHooks) PeerAlive(meta membership.Meta) {
	h.n.links.up(meta.Node) // gossip hears it: an old transport break is no hint
	if meta.Transport == "" {
		return
	}
	h.n.tr.SetPeer(meta.Node, meta.Transport, meta.Incarnation)
	h.n.groups.peerAlive(meta.Node, meta.Incarnation)
}

func (h clusterHooks) PeerGone(id node.NodeID, inc uint64, dead bool) {
	why := GroupNodeLeft
	if dead {
		why = GroupNodeDown
	}
	h.n.groups.peerGone(id, inc, why)
	h.n.NodeDown(id, inc)
	h.n.tr.RemovePeer(id)
}

// LastContact is the transport's break: the last contact the node had
// with peer.
func (h clusterHooks) LastContact(id node.NodeID) (time.Time, bool) {
	return h.n.links.since(id)
}
