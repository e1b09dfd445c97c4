package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

var (
	_ Transport = (*InmemTransport)(nil)
	_ TrySender = (*InmemTransport)(nil)
)

// InmemTransport is a Transport inside an InmemNetwork. Every frame goes
// through the same codec as TCP (encoded on send, decoded on delivery), so
// no pointer is shared between nodes. Unlike TCPTransport, it connects
// synchronously: Send and Call to an unreachable peer fail at once with a
// *PeerError.
type InmemTransport struct {
	net      *InmemNetwork
	cfg      *Config
	log      hclog.Logger
	handler  atomic.Pointer[Handler]
	stats    counters
	events   *eventQueue
	shutdown chan struct{}
	nextID   atomic.Uint64
	wg       sync.WaitGroup
	// deliverMu serialises deliveries from all links into this node, so a
	// broken connection's link cannot deliver after its successor's.
	deliverMu sync.Mutex

	// Under net.mu.
	peers   map[NodeID]inmemPeer
	conns   map[NodeID]*inmemConn
	calls   map[uint64]inmemCall
	started bool
	closed  bool
}

type inmemPeer struct {
	addr string
	inc  uint64
}

type inmemCall struct {
	peer NodeID
	ch   chan callResult
}

// NewTransport adds a node to the network. The node id must not belong to
// a transport that is still open.
func (n *InmemNetwork) NewTransport(cfg Config) (*InmemTransport, error) {
	c := cfg.clone()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &InmemTransport{
		net:      n,
		cfg:      c,
		log:      c.Logger.With("node", string(c.NodeID)),
		events:   newEventQueue(),
		shutdown: make(chan struct{}),
		peers:    make(map[NodeID]inmemPeer),
		conns:    make(map[NodeID]*inmemConn),
		calls:    make(map[uint64]inmemCall),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.nodes[c.NodeID]; old != nil && !old.closed {
		return nil, fmt.Errorf("%w: node %s already on the network", ErrBadConfig, c.NodeID)
	}
	n.nodes[c.NodeID] = t
	return t, nil
}

// Addr returns the address to pass to SetPeer: "inmem:" + node id.
func (t *InmemTransport) Addr() string { return "inmem:" + string(t.cfg.NodeID) }

// LocalNode returns this node's id and incarnation.
func (t *InmemTransport) LocalNode() (NodeID, uint64) { return t.cfg.NodeID, t.cfg.Incarnation }

// SetHandler installs h. Call it before Start.
func (t *InmemTransport) SetHandler(h Handler) { t.handler.Store(&h) }

func (t *InmemTransport) getHandler() Handler {
	if p := t.handler.Load(); p != nil {
		return *p
	}
	return nil
}

// Start makes the node reachable.
func (t *InmemTransport) Start() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.started {
		return errors.New("transport: already started")
	}
	t.started = true
	t.goFunc(func() { t.events.run(t.getHandler, t.shutdown) })
	return nil
}

func (t *InmemTransport) goFunc(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// SetPeer records peer's address and expected incarnation (0: any).
func (t *InmemTransport) SetPeer(peer NodeID, addr string, incarnation uint64) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.peers[peer] = inmemPeer{addr: addr, inc: incarnation}
	if c := t.conns[peer]; c != nil && incarnation != 0 && t.net.nodes[peer] != nil &&
		c.linkTo(peer).to.cfg.Incarnation != incarnation {
		t.net.breakLocked(c, ErrIncarnationChanged)
	}
}

// RemovePeer forgets peer and breaks the connection to it.
func (t *InmemTransport) RemovePeer(peer NodeID) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	delete(t.peers, peer)
	if c := t.conns[peer]; c != nil {
		t.net.breakLocked(c, ErrPeerRemoved)
	}
}

// Send queues env for peer; see Transport.Send.
func (t *InmemTransport) Send(ctx context.Context, peer NodeID, env *Envelope) error {
	return t.send(ctx, peer, env, true)
}

// TrySend is Send that returns ErrQueueFull instead of blocking.
func (t *InmemTransport) TrySend(peer NodeID, env *Envelope) error {
	return t.send(context.Background(), peer, env, false)
}

func (t *InmemTransport) send(ctx context.Context, peer NodeID, env *Envelope, block bool) error {
	if len(env.Body) > t.cfg.MaxFrameSize {
		return fmt.Errorf("%w: body of %d bytes", ErrTooLarge, len(env.Body))
	}
	l, drop, err := t.link(peer)
	if err != nil {
		return err
	}
	if drop {
		t.dropped(1) // an injected fault
		return nil
	}
	maxFrame := t.cfg.MaxFrameSize
	return l.q.put(ctx, t.shutdown, block, func(b []byte) ([]byte, error) {
		return appendEnvelope(b, env, maxFrame)
	})
}

// link returns the link to peer (connecting if needed) and whether the
// network drops the next frame on it.
func (t *InmemTransport) link(peer NodeID) (*inmemLink, bool, error) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.closed {
		return nil, false, ErrClosed
	}
	c, err := t.net.connectLocked(t, peer)
	if err != nil {
		return nil, false, err
	}
	return c.linkTo(peer), t.net.dropLocked(t.cfg.NodeID, peer), nil
}

// Call sends a request and waits for the response; see Transport.Call.
func (t *InmemTransport) Call(ctx context.Context, peer NodeID, method string, body []byte) ([]byte, error) {
	if len(body)+len(method) > t.cfg.MaxFrameSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrTooLarge, len(body))
	}
	l, drop, err := t.link(peer)
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.c.ctx.Done():
		return nil, &PeerError{Peer: peer, Err: ErrConnLost}
	}
	id := t.nextID.Add(1)
	ch := make(chan callResult, 1)
	t.net.mu.Lock()
	t.calls[id] = inmemCall{peer: peer, ch: ch}
	t.net.mu.Unlock()
	m := requestMsg{ID: id, Method: method, Body: body, Deadline: deadlineOf(ctx.Deadline())}
	maxFrame := t.cfg.MaxFrameSize
	if !drop {
		err = l.q.put(ctx, t.shutdown, true, func(b []byte) ([]byte, error) { return appendRequest(b, &m, maxFrame) })
		if err != nil {
			t.takeCall(id)
			return nil, err
		}
	}
	select {
	case r := <-ch:
		return r.outcome(ctx)
	case <-ctx.Done():
		if t.takeCall(id) == nil {
			return (<-ch).outcome(ctx) // the result raced in
		}
		_ = l.q.put(ctx, nil, false, func(b []byte) ([]byte, error) { return appendCancel(b, id), nil })
		return nil, ctx.Err()
	}
}

func (t *InmemTransport) takeCall(id uint64) chan callResult {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	c, ok := t.calls[id]
	if !ok {
		return nil
	}
	delete(t.calls, id)
	return c.ch
}

// failCallsLocked fails pending calls to peer. Caller holds net.mu.
func (t *InmemTransport) failCallsLocked(peer NodeID, err error) {
	for id, c := range t.calls {
		if c.peer == peer {
			c.ch <- callResult{err: err}
			delete(t.calls, id)
		}
	}
}

// Close breaks every connection and waits for this node's goroutines.
// Idempotent.
func (t *InmemTransport) Close() error {
	t.net.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.shutdown)
		for _, c := range t.conns {
			t.net.breakLocked(c, ErrClosed)
		}
		for id, c := range t.calls {
			c.ch <- callResult{err: ErrClosed}
			delete(t.calls, id)
		}
	}
	t.net.mu.Unlock()
	t.wg.Wait()
	return nil
}
