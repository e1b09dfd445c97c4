package transport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// InmemNetwork connects InmemTransports in one process, for tests. It can
// partition nodes into groups, drop and delay frames per directed link (from
// a seeded rand, so a run replays), and heal. A partition breaks the
// connections it cuts exactly like a TCP failure: both sides hear PeerDown,
// pending calls fail with a *PeerError, queued frames are dropped.
type InmemNetwork struct {
	mu     sync.Mutex
	rng    *rand.Rand
	nodes  map[NodeID]*InmemTransport
	groups map[NodeID]int // nil when healed
	faults map[[2]NodeID]linkFault
	conns  map[[2]NodeID]*inmemConn // key: sorted pair
}

type linkFault struct {
	drop  float64
	delay time.Duration
}

// NewInmemNetwork returns an empty network whose faults draw from seed.
func NewInmemNetwork(seed int64) *InmemNetwork {
	return &InmemNetwork{
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		nodes:  make(map[NodeID]*InmemTransport),
		faults: make(map[[2]NodeID]linkFault),
		conns:  make(map[[2]NodeID]*inmemConn),
	}
}

// Partition splits the network: nodes can reach only nodes of their own
// group. Nodes in no group form one more group together. Connections across
// groups break at once.
func (n *InmemNetwork) Partition(groups ...[]NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = make(map[NodeID]int)
	for i, g := range groups {
		for _, id := range g {
			n.groups[id] = i + 1
		}
	}
	for key, c := range n.conns {
		if !n.reachableLocked(key[0], key[1]) {
			n.breakLocked(c, errUnreachable)
		}
	}
}

// Heal removes the partition (link faults stay).
func (n *InmemNetwork) Heal() {
	n.mu.Lock()
	n.groups = nil
	n.mu.Unlock()
}

// SetLinkFaults makes frames from one node to another be dropped with
// probability drop (0..1) and delayed by delay. Zero values clear them.
// Dropped frames vanish silently (a Call then waits for its ctx); delay is
// applied per batch, so order is kept.
func (n *InmemNetwork) SetLinkFaults(from, to NodeID, drop float64, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if drop <= 0 && delay <= 0 {
		delete(n.faults, [2]NodeID{from, to})
		return
	}
	n.faults[[2]NodeID{from, to}] = linkFault{drop: drop, delay: delay}
}

func (n *InmemNetwork) reachableLocked(a, b NodeID) bool {
	return n.groups == nil || n.groups[a] == n.groups[b]
}

// dropLocked decides whether the next frame from->to is lost.
func (n *InmemNetwork) dropLocked(from, to NodeID) bool {
	f, ok := n.faults[[2]NodeID{from, to}]
	return ok && f.drop > 0 && n.rng.Float64() < f.drop
}

func (n *InmemNetwork) delay(from, to NodeID) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults[[2]NodeID{from, to}].delay
}

func pairKey(a, b NodeID) [2]NodeID {
	if a > b {
		a, b = b, a
	}
	return [2]NodeID{a, b}
}

// connectLocked returns the connection from t to peer, opening it (with a
// handshake through the codec) if needed.
func (n *InmemNetwork) connectLocked(t *InmemTransport, peer NodeID) (*inmemConn, error) {
	if c := t.conns[peer]; c != nil {
		return c, nil
	}
	want, ok := t.peers[peer]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, peer)
	}
	to := n.nodes[peer]
	if to == nil || to.closed || !to.started || want.addr != to.Addr() || !n.reachableLocked(t.cfg.NodeID, peer) {
		return nil, &PeerError{Peer: peer, Err: errUnreachable}
	}
	if err := inmemHandshake(t, to, want.inc); err != nil {
		return nil, &PeerError{Peer: peer, Err: err}
	}
	c := newInmemConn(t, to)
	n.conns[pairKey(t.cfg.NodeID, peer)] = c
	t.conns[peer] = c
	to.conns[t.cfg.NodeID] = c
	t.events.push(peerEvent{up: true, peer: peer, inc: to.cfg.Incarnation})
	to.events.push(peerEvent{up: true, peer: t.cfg.NodeID, inc: t.cfg.Incarnation})
	return c, nil
}

// breakLocked tears a connection down on both sides.
func (n *InmemNetwork) breakLocked(c *inmemConn, cause error) {
	if n.conns[c.key] != c {
		return
	}
	delete(n.conns, c.key)
	c.cancel()
	for _, l := range c.links {
		l.served.closeAll()
	}
	for i, side := range c.side {
		other := c.side[1-i]
		if side.conns[other.cfg.NodeID] == c {
			delete(side.conns, other.cfg.NodeID)
		}
		perr := &PeerError{Peer: other.cfg.NodeID, Err: fmt.Errorf("%w: %w", ErrConnLost, cause)}
		other.dropped(c.links[i].q.close(perr)) // frames other sent to side
		side.failCallsLocked(other.cfg.NodeID, perr)
		if !side.closed {
			side.events.push(peerEvent{peer: other.cfg.NodeID, inc: other.cfg.Incarnation, cause: perr})
		}
	}
}

// inmemHandshake runs the TCP handshake itself between d (dialling) and a
// over an in-memory pipe, so both transports share its checks and its
// codec; each side logs its own refusals.
func inmemHandshake(d, a *InmemTransport, wantInc uint64) error {
	dc, ac := net.Pipe()
	defer dc.Close()
	deadline := time.Now().Add(max(d.cfg.HandshakeTimeout, a.cfg.HandshakeTimeout))
	_ = dc.SetDeadline(deadline)
	_ = ac.SetDeadline(deadline)
	accepted := make(chan error, 1)
	go func() {
		defer ac.Close() // unblocks a dialer still writing a refusal
		_, err := acceptHandshake(a.cfg, &handshakeIO{w: ac, fr: newFrameReaderSize(ac, maxHandshakeFrame, handshakeBufSize)})
		accepted <- err
	}()
	_, err := dialHandshake(d.cfg, &handshakeIO{w: dc, fr: newFrameReaderSize(dc, maxHandshakeFrame, handshakeBufSize)},
		a.cfg.NodeID, wantInc, 1)
	_ = dc.Close()
	if aerr := <-accepted; aerr != nil {
		a.log.Warn("inbound handshake refused", "peer", d.cfg.NodeID, "error", aerr)
	}
	if err != nil {
		d.log.Error("cannot connect to peer", "peer", a.cfg.NodeID, "error", err)
	}
	return err
}

// inmemConn is the connection between two in-memory transports: one
// ordered, bounded link per direction, each drained by a goroutine that
// decodes and delivers frames.
type inmemConn struct {
	key    [2]NodeID
	side   [2]*InmemTransport // side[0] dialled side[1]
	links  [2]*inmemLink      // links[i] delivers to side[i]
	ctx    context.Context    // cancelled when the connection breaks
	cancel context.CancelFunc
}

func newInmemConn(d, a *InmemTransport) *inmemConn {
	c := &inmemConn{key: pairKey(d.cfg.NodeID, a.cfg.NodeID), side: [2]*InmemTransport{d, a}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for i, to := range c.side {
		l := newInmemLink(c, c.side[1-i], to)
		c.links[i] = l
		to.goFunc(l.run)
	}
	return c
}

// linkTo returns the link that carries frames to node id.
func (c *inmemConn) linkTo(id NodeID) *inmemLink {
	if c.side[0].cfg.NodeID == id {
		return c.links[0]
	}
	return c.links[1]
}
