package cluster

import (
	"sync"
	"time"
)

// linkWatch remembers when the transport lost its connection to each peer:
// an early hint of a node's death. The controller counts the purge grace
// from the first sign of trouble — this hint, or gossip's verdict — but it
// never purges before gossip has declared the node dead.
type linkWatch struct {
	mu   sync.Mutex
	lost map[NodeID]time.Time // peer → when its connection broke
}

func newLinkWatch() *linkWatch { return &linkWatch{lost: make(map[NodeID]time.Time)} }

// down records that the connection to peer broke (the first break counts).
func (l *linkWatch) down(peer NodeID) {
	l.mu.Lock()
	if _, ok := l.lost[peer]; !ok {
		l.lost[peer] = time.Now()
	}
	l.mu.Unlock()
}

// up forgets a peer's break: it is reachable again.
func (l *linkWatch) up(peer NodeID) {
	l.mu.Lock()
	delete(l.lost, peer)
	l.mu.Unlock()
}

// since returns when the connection to peer broke, if it is still down.
func (l *linkWatch) since(peer NodeID) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.lost[peer]
	return t, ok
}

// LastContact implements membership.ContactHooks: the transport's break is
// the last contact the node had with peer.
func (h clusterHooks) LastContact(id NodeID) (time.Time, bool) {
	return h.c.links.since(id)
}
