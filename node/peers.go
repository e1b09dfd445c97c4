package node

// PeerObserver hears what the runtime hears about its peers from the
// transport: a connection to a peer came up, or broke. It is the runtime's
// one hook for peer news; the clustered node (package node/cluster) sets
// it (Config.Peers) to take a broken connection as an early hint of a
// node's death. The other direction, gossip's verdict that a node is dead,
// reaches the runtime through Node.NodeDown.
//
// The node calls both methods from the transport's goroutines, before it
// fails the monitors and links of the peer's processes; they must not
// block.
type PeerObserver interface {
	// PeerUp: the transport connected to peer (incarnation 0: unknown).
	PeerUp(peer NodeID, incarnation uint64)
	// PeerDown: the transport's connection to peer broke, for cause.
	PeerDown(peer NodeID, incarnation uint64, cause error)
}
