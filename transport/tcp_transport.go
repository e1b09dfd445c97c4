package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

var (
	_ Transport = (*TCPTransport)(nil)
	_ TrySender = (*TCPTransport)(nil)
)

// TCPTransport is the Transport between real nodes: msgpack frames over
// TCP, optionally mutual TLS. Create it with NewTCPTransport.
type TCPTransport struct {
	cfg       *Config
	log       hclog.Logger
	handler   atomic.Pointer[Handler]
	ln        net.Listener
	tlsConfig *tls.Config
	addr      string // advertised address

	shutdown  chan struct{}
	ctx       context.Context // cancelled by Close; parent of dials and requests
	cancel    context.CancelFunc
	closeOnce sync.Once
	started   atomic.Bool
	wg        sync.WaitGroup
	events    *eventQueue
	nextID    atomic.Uint64
	dialGen   atomic.Uint64  // numbers outbound connections (authMsg.Gen)
	pending   *handshakePool // inbound connections not yet authenticated
	accept    acceptState
	stats     counters

	// mu guards peers and every peer's fields marked "under t.mu".
	// Lock order: t.mu, then peer.callMu, then sendQueue.mu.
	mu     sync.RWMutex
	peers  map[NodeID]*peer
	live   map[net.Conn]struct{} // every open socket, closed by Close
	rng    *rand.Rand            // backoff jitter
	now    func() time.Time      // the redial backoff's clock; tests replace it
	closed bool
}

// NewTCPTransport validates a copy of cfg and binds the listener (so Addr
// is known at once); Start begins accepting.
func NewTCPTransport(cfg Config) (*TCPTransport, error) {
	c := cfg.clone()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tc, err := tlsFromConfig(c)
	if err != nil {
		return nil, err
	}
	ln := c.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", c.BindAddr); err != nil {
			return nil, fmt.Errorf("transport: listen %s: %w", c.BindAddr, err)
		}
	}
	t := &TCPTransport{
		cfg:       c,
		log:       c.Logger.With("node", string(c.NodeID)),
		ln:        ln,
		tlsConfig: tc,
		addr:      c.AdvertiseAddr,
		shutdown:  make(chan struct{}),
		events:    newEventQueue(),
		pending:   newHandshakePool(c.MaxPendingHandshakes, c.MaxPendingHandshakesPerIP),
		peers:     make(map[NodeID]*peer),
		live:      make(map[net.Conn]struct{}),
		rng:       rand.New(rand.NewPCG(c.Incarnation, uint64(time.Now().UnixNano()))),
		now:       time.Now,
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if t.addr == "" {
		t.addr = ln.Addr().String()
	}
	return t, nil
}

// Addr returns the address peers should dial (AdvertiseAddr or the bound
// address).
func (t *TCPTransport) Addr() string { return t.addr }

// LocalNode returns this node's id and incarnation.
func (t *TCPTransport) LocalNode() (NodeID, uint64) { return t.cfg.NodeID, t.cfg.Incarnation }

// SetHandler installs h. Call it before Start.
func (t *TCPTransport) SetHandler(h Handler) { t.handler.Store(&h) }

func (t *TCPTransport) getHandler() Handler {
	if p := t.handler.Load(); p != nil {
		return *p
	}
	return nil
}

// Start begins accepting connections. It may be called once.
func (t *TCPTransport) Start() error {
	select {
	case <-t.shutdown:
		return ErrClosed
	default:
	}
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("transport: already started")
	}
	t.goFunc(func() { t.events.run(t.getHandler, t.shutdown) })
	t.goFunc(t.acceptLoop)
	return nil
}

// goFunc runs f on a goroutine tracked by Close.
func (t *TCPTransport) goFunc(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// SetPeer records where peer listens and which incarnation to expect there
// (0: any). A changed address or incarnation closes the current outbound
// connection; the next send redials.
func (t *TCPTransport) SetPeer(id NodeID, addr string, incarnation uint64) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	p := t.peerLocked(id)
	var stale *conn
	if p.addr != addr || (incarnation != 0 && p.expectInc != incarnation) {
		stale = p.out
		p.backoffUntil = zeroTime
		p.failures = 0
	}
	p.addr, p.expectInc = addr, incarnation
	if !p.writing {
		p.writing = true
		t.goFunc(p.writeLoop)
	}
	t.mu.Unlock()
	if stale != nil {
		stale.close(fmt.Errorf("%w: peer address or incarnation changed", ErrConnLost))
	}
}

// peerLocked returns the entry for id, creating it. Caller holds t.mu.
func (t *TCPTransport) peerLocked(id NodeID) *peer {
	p := t.peers[id]
	if p == nil {
		p = newPeer(t, id)
		t.peers[id] = p
	}
	return p
}

// RemovePeer forgets peer: its connections close, queued frames are dropped,
// pending calls fail with a *PeerError wrapping ErrPeerRemoved, and the
// Handler hears PeerDown if the peer was up.
func (t *TCPTransport) RemovePeer(id NodeID) {
	t.mu.Lock()
	p := t.peers[id]
	if p == nil {
		t.mu.Unlock()
		return
	}
	delete(t.peers, id)
	conns := p.detachLocked(&PeerError{Peer: id, Err: ErrPeerRemoved})
	t.mu.Unlock()
	for _, c := range conns {
		c.close(ErrPeerRemoved)
	}
}

// Send queues env for peer; see Transport.Send. The envelope is encoded
// before Send returns, so the caller may reuse it.
func (t *TCPTransport) Send(ctx context.Context, peer NodeID, env *Envelope) error {
	return t.send(ctx, peer, env, true)
}

// TrySend is Send that never blocks: when the peer's queue is full it
// returns ErrQueueFull.
func (t *TCPTransport) TrySend(peer NodeID, env *Envelope) error {
	return t.send(context.Background(), peer, env, false)
}

func (t *TCPTransport) send(ctx context.Context, id NodeID, env *Envelope, block bool) error {
	if len(env.Body) > t.cfg.MaxFrameSize {
		return fmt.Errorf("%w: body of %d bytes", ErrTooLarge, len(env.Body))
	}
	p, err := t.sendable(id)
	if err != nil {
		return err
	}
	maxFrame := t.cfg.MaxFrameSize
	return p.q.put(ctx, t.shutdown, block, func(b []byte) ([]byte, error) {
		return appendEnvelope(b, env, maxFrame)
	})
}

// sendable returns peer id if traffic may be queued for it now.
func (t *TCPTransport) sendable(id NodeID) (*peer, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, ErrClosed
	}
	p := t.peers[id]
	if p == nil || p.addr == "" {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, id)
	}
	if p.out == nil && p.lastErr != nil && t.now().Before(p.backoffUntil) {
		return nil, p.lastErr
	}
	return p, nil
}

// Call sends a request to peer and waits for its response; see
// Transport.Call.
func (t *TCPTransport) Call(ctx context.Context, id NodeID, method string, body []byte) ([]byte, error) {
	if len(body)+len(method) > t.cfg.MaxFrameSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrTooLarge, len(body))
	}
	p, err := t.sendable(id)
	if err != nil {
		return nil, err
	}
	return p.call(ctx, method, body)
}

// Close closes the listener and every connection, fails pending calls with
// ErrClosed and waits for all goroutines. Idempotent.
func (t *TCPTransport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		close(t.shutdown)
		t.cancel()
		var conns []*conn
		for id, p := range t.peers {
			conns = append(conns, p.detachLocked(&PeerError{Peer: id, Err: ErrClosed})...)
		}
		live := make([]net.Conn, 0, len(t.live))
		for nc := range t.live {
			live = append(live, nc)
		}
		t.mu.Unlock()
		_ = t.ln.Close()
		for _, c := range conns {
			c.close(ErrClosed)
		}
		for _, nc := range live {
			_ = nc.Close() // connections still in their handshake
		}
	})
	t.wg.Wait()
	return nil
}

// track records an open socket so Close can close it; false if closed.
func (t *TCPTransport) track(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.live[nc] = struct{}{}
	return true
}

func (t *TCPTransport) untrack(nc net.Conn) {
	t.mu.Lock()
	delete(t.live, nc)
	t.mu.Unlock()
}
