package cluster

import (
	"sync"
	"time"

	"github.com/roster-dev/roster/node"
)

// linkWatch remembers when the transport lost its connection to each peer:
// an early hint of a node's death. The controller counts the purge grace
// from the first sign of trouble — this hint, or gossip's verdict — but it
// never purges before gossip has declared the node dead.
type linkWatch struct {
	mu   sync.Mutex
	lost map[node.NodeID]time.Time // peer → when its connection broke
}

func newLinkWatch() *linkWatch { return &linkWatch{lost: make(map[node.NodeID]time.Time)} }

// down records that the connection to peer broke (the first break counts).
func (l *linkWatch) down(peer node.NodeID) {
	l.mu.Lock()
	if _, ok := l.lost[peer]; !ok {
		l.lost[peer] = time.Now()
	}
	l.mu.Unlock()
}

// up forgets a peer's break: it is reachable again.
func (l *linkWatch) up(peer node.NodeID) {
	l.mu.Lock()
	delete(l.lost, peer)
	l.mu.Unlock()
}

var _ node.PeerObserver = (*linkWatch)(nil)

// PeerUp implements node.PeerObserver: the transport reached peer again.
func (l *linkWatch) PeerUp(peer node.NodeID, _ uint64) { l.up(peer) }

// PeerDown implements node.PeerObserver: the transport lost peer.
func (l *linkWatch) PeerDown(peer node.NodeID, _ uint64, _ error) { l.down(peer) }

// since returns when the connection to peer broke, if it is still down.
func (l *linkWatch) since(peer node.NodeID) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.lost[peer]
	return t, ok
}
