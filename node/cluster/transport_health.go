package cluster

import "github.com/roster-dev/roster/transport"

// TransportStats returns the node's transport counters: envelopes the
// transport accepted and then dropped, failed Accepts, and pending, evicted
// and refused inbound handshakes (zero for a transport that keeps none).
// It does not block.
func (n *Node) TransportStats() transport.Stats {
	if sr, ok := n.tr.(transport.StatsReporter); ok {
		return sr.Stats()
	}
	return transport.Stats{}
}

// TransportHealth returns nil while the node's transport accepts inbound
// connections, and otherwise why not (an error wrapping
// transport.ErrNotAccepting: its accept loop is backing off after failed
// Accepts such as EMFILE, so peers' messages to this node are being lost).
// A transport without a health signal is healthy. It does not block.
func (n *Node) TransportHealth() error {
	if h, ok := n.tr.(interface{ Health() error }); ok {
		return h.Health()
	}
	return nil
}
