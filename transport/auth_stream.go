package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// StreamConfig configures an AuthStream: the authenticated channel Raft
// (or any other byte-stream protocol) runs over. See auth_proof.go for the
// proof.
type StreamConfig struct {
	// ClusterID must match the peer's. Default "roster". At most 255 bytes.
	ClusterID string
	// NodeID is this node's id (required): the dialer proves it, and the
	// acceptor counts connections per proven id.
	NodeID NodeID
	// Keyring holds the cluster keys: a dialer proves with the primary, an
	// acceptor accepts any installed key. Shared with the transport and
	// gossip, so a rotation covers all three. nil (or no key): the proof
	// checks cluster id and version only; set TLS for authentication then.
	Keyring *Keyring
	// TLS, when set, wraps both directions in TLS before the proof; for
	// mutual TLS it must require and verify client certificates (see
	// LoadTLSConfig). Default nil.
	TLS *tls.Config

	// HandshakeTimeout bounds TLS and the proof on one connection. Default 5s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes an authenticated inbound connection on which
	// nothing arrived for this long (each read resets it). Raft's pooled
	// connections are busy or re-dialled on demand, so this only reclaims
	// abandoned ones. Default 5 min.
	IdleTimeout time.Duration
	// MaxPendingHandshakes bounds inbound connections in their handshake;
	// beyond it the busiest host's oldest is closed. Default 64.
	MaxPendingHandshakes int
	// MaxPendingPerHost bounds one remote host's connections in handshake;
	// beyond it that host's oldest is closed. Default 16.
	MaxPendingPerHost int
	// MaxConnsPerPeer bounds authenticated inbound connections per proven
	// node id (raft keeps a pool of 3 per peer, plus transient ones).
	// Default 32.
	MaxConnsPerPeer int
	// MaxConns bounds all authenticated inbound connections. Default 1024.
	MaxConns int

	// Dialer opens outbound TCP connections. nil: a net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives refusals (at Warn) and limits hit. Default: null.
	Logger hclog.Logger
}

// AuthStream runs the stream proof on connections it accepts (Listen) and
// dials (Dial). Create it with NewAuthStream.
type AuthStream struct {
	cfg StreamConfig
}

// NewAuthStream validates a copy of cfg, filling defaults for zero fields.
func NewAuthStream(cfg StreamConfig) (*AuthStream, error) {
	c := cfg
	if c.ClusterID == "" {
		c.ClusterID = "roster"
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur(&c.HandshakeTimeout, 5*time.Second)
	setDur(&c.IdleTimeout, 5*time.Minute)
	setInt(&c.MaxPendingHandshakes, 64)
	setInt(&c.MaxPendingPerHost, 16)
	setInt(&c.MaxConnsPerPeer, 32)
	setInt(&c.MaxConns, 1024)
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.TLS != nil {
		c.TLS = c.TLS.Clone()
	}
	switch {
	case ValidateNodeID(c.NodeID) != nil:
		return nil, fmt.Errorf("%w: NodeID: %w", ErrBadConfig, ValidateNodeID(c.NodeID))
	case len(c.ClusterID) > 255:
		return nil, fmt.Errorf("%w: ClusterID longer than 255 bytes", ErrBadConfig)
	case c.HandshakeTimeout < 0 || c.IdleTimeout < 0:
		return nil, fmt.Errorf("%w: negative stream timeout", ErrBadConfig)
	case c.MaxPendingHandshakes < 1 || c.MaxPendingPerHost < 1 || c.MaxConnsPerPeer < 1 || c.MaxConns < 1:
		return nil, fmt.Errorf("%w: stream limits must be >= 1", ErrBadConfig)
	}
	return &AuthStream{cfg: c}, nil
}

func (s *AuthStream) params() *streamParams {
	return &streamParams{cluster: s.cfg.ClusterID, node: s.cfg.NodeID, keys: s.cfg.Keyring.Keys()}
}

// Dial connects to addr and runs TLS (when configured) and the proof,
// within ctx and HandshakeTimeout. The connection it returns is
// authenticated both ways.
func (s *AuthStream) Dial(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	dial := s.cfg.Dialer
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := s.dialHandshake(ctx, nc, addr)
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("transport: stream to %s: %w", addr, err)
	}
	return conn, nil
}

func (s *AuthStream) dialHandshake(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	conn := nc
	if s.cfg.TLS != nil {
		tc := tlsClient(nc, s.cfg.TLS, addr).(*tls.Conn)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	if err := streamDial(conn, s.params(), newStreamNonce()); err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return conn, nil
}

// AuthListenerStats counts what an AuthListener did with its connections.
type AuthListenerStats struct {
	Accepted  uint64 // proved the key and handed to Accept
	Refused   uint64 // failed TLS or the proof (or timed out in it)
	OverLimit uint64 // closed by a pending, per-host, per-peer or total limit
	Open      int    // authenticated connections open now
}

// AuthListener is a net.Listener whose Accept returns only connections
// that passed TLS (when configured) and the stream proof. Handshakes run
// on their own goroutines, so a slow or silent client never delays Accept.
type AuthListener struct {
	s     *AuthStream
	inner net.Listener
	log   hclog.Logger
	ready chan net.Conn
	done  chan struct{}
	stop  sync.Once // closes done
	once  sync.Once // Close
	wg    sync.WaitGroup

	mu      sync.Mutex
	pending int
	perHost map[string][]net.Conn // connections in handshake per remote host, oldest first
	perPeer map[NodeID]int
	open    int
	live    map[net.Conn]struct{} // every socket we hold, closed by Close

	accepted, refused, overLimit atomic.Uint64

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int // refusals not logged since lastLog
}

var _ net.Listener = (*AuthListener)(nil)

// Listen wraps inner; the AuthListener owns it and closes it on Close.
func (s *AuthStream) Listen(inner net.Listener) *AuthListener {
	l := &AuthListener{
		s: s, inner: inner, log: s.cfg.Logger, ready: make(chan net.Conn), done: make(chan struct{}),
		perHost: make(map[string][]net.Conn), perPeer: make(map[NodeID]int), live: make(map[net.Conn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next authenticated connection, or net.ErrClosed once
// the listener is closed.
func (l *AuthListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("transport: stream listener: %w", net.ErrClosed)
	}
}

// Addr returns the inner listener's address.
func (l *AuthListener) Addr() net.Addr { return l.inner.Addr() }

// Close stops accepting, closes every connection still in its handshake
// and every authenticated one it handed out, and waits for its goroutines.
func (l *AuthListener) Close() error {
	var err error
	l.once.Do(func() {
		l.stop.Do(func() { close(l.done) })
		err = l.inner.Close()
		l.mu.Lock()
		for c := range l.live {
			_ = c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

// Stats returns the listener's counters.
func (l *AuthListener) Stats() AuthListenerStats {
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	return AuthListenerStats{Accepted: l.accepted.Load(), Refused: l.refused.Load(), OverLimit: l.overLimit.Load(), Open: open}
}

// acceptLoop accepts until Close. Temporary errors (EMFILE among them) back
// off from 5 ms to 1 s and accepting resumes, as net/http does.
func (l *AuthListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.stop.Do(func() { close(l.done) })
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("stream accept failed; retrying", "error", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			continue
		}
		backoff = 0
		host := remoteHost(nc)
		l.reserve(nc, host)
		l.wg.Add(1)
		go l.serve(nc, host)
	}
}

func remoteHost(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}

// warn logs a refusal, at most ten a second: a flood of strangers must
// not flood the log too. The next logged line says how many were skipped.
func (l *AuthListener) warn(msg string, args ...any) {
	l.logMu.Lock()
	now := time.Now()
	if now.Sub(l.lastLog) < 100*time.Millisecond {
		l.suppressed++
		l.logMu.Unlock()
		return
	}
	n := l.suppressed
	l.lastLog, l.suppressed = now, 0
	l.logMu.Unlock()
	if n > 0 {
		args = append(args, "not_logged_since_last", n)
	}
	l.log.Warn(msg, args...)
}

// reserve gives nc a handshake slot. When its host already holds
// MaxPendingPerHost, or all MaxPendingHandshakes are taken, the oldest
// handshake of that host (or of the busiest host) is closed to make room:
// an honest peer finishes its handshake in a round trip, so what is evicted
// is a stranger's idle connection, and a flood can never keep a peer out.
func (l *AuthListener) reserve(nc net.Conn, host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	victim := ""
	switch {
	case len(l.perHost[host]) >= l.s.cfg.MaxPendingPerHost:
		victim = host
	case l.pending >= l.s.cfg.MaxPendingHandshakes:
		for h, cs := range l.perHost {
			if victim == "" || len(cs) > len(l.perHost[victim]) {
				victim = h
			}
		}
	}
	if victim != "" {
		old := l.perHost[victim][0]
		l.removePending(victim, old)
		_ = old.Close() // its handshake fails at once; serve does not release it again
		l.overLimit.Add(1)
		l.warn("stream handshake slots full; closed the oldest", "host", victim, "pending", l.pending)
	}
	l.pending++
	l.perHost[host] = append(l.perHost[host], nc)
	l.live[nc] = struct{}{}
}

// removePending drops nc from host's pending list; false if it was not
// there (already evicted). l.mu held.
func (l *AuthListener) removePending(host string, nc net.Conn) bool {
	cs := l.perHost[host]
	for i, c := range cs {
		if c == nc {
			cs = append(cs[:i:i], cs[i+1:]...)
			if len(cs) == 0 {
				delete(l.perHost, host)
			} else {
				l.perHost[host] = cs
			}
			l.pending--
			return true
		}
	}
	return false
}

func (l *AuthListener) release(host string, nc net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removePending(host, nc)
}

func (l *AuthListener) forget(nc net.Conn) {
	l.mu.Lock()
	delete(l.live, nc)
	l.mu.Unlock()
	_ = nc.Close()
}

// serve runs one inbound handshake and hands the connection to Accept.
func (l *AuthListener) serve(nc net.Conn, host string) {
	defer l.wg.Done()
	peer, conn, err := l.handshake(nc)
	l.release(host, nc)
	if err != nil {
		l.refused.Add(1)
		l.warn("stream handshake refused", "remote", nc.RemoteAddr(), "error", err)
		l.forget(nc)
		return
	}
	if !l.admit(peer) {
		l.overLimit.Add(1)
		l.warn("stream connection limit reached; closing", "peer", peer, "remote", nc.RemoteAddr())
		l.forget(nc)
		return
	}
	ac := &authConn{Conn: conn, raw: nc, l: l, peer: peer, idle: l.s.cfg.IdleTimeout}
	select {
	case l.ready <- ac:
		l.accepted.Add(1)
	case <-l.done:
		_ = ac.Close()
	}
}

func (l *AuthListener) handshake(nc net.Conn) (NodeID, net.Conn, error) {
	_ = nc.SetDeadline(time.Now().Add(l.s.cfg.HandshakeTimeout))
	conn := nc
	if l.s.cfg.TLS != nil {
		tc := tls.Server(nc, l.s.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			return "", nil, fmt.Errorf("%w: tls: %w", ErrBadAuth, err)
		}
		conn = tc
	}
	peer, err := streamAccept(conn, l.s.params(), newStreamNonce())
	if err != nil {
		return "", nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return peer, conn, nil
}

func (l *AuthListener) admit(peer NodeID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.s.cfg.MaxConns || l.perPeer[peer] >= l.s.cfg.MaxConnsPerPeer {
		return false
	}
	l.open++
	l.perPeer[peer]++
	return true
}

func (l *AuthListener) drop(peer NodeID, raw net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.live, raw)
	l.open--
	if l.perPeer[peer]--; l.perPeer[peer] <= 0 {
		delete(l.perPeer, peer)
	}
}

// authConn is an authenticated inbound connection: each Read first pushes
// its read deadline IdleTimeout ahead, and Close gives back its peer's slot.
type authConn struct {
	net.Conn
	raw    net.Conn
	l      *AuthListener
	peer   NodeID
	idle   time.Duration
	closed atomic.Bool
}

func (c *authConn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		_ = c.raw.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(b)
}

func (c *authConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.drop(c.peer, c.raw)
	}
	return err
}

// Peer returns the node id the connection's dialer proved.
func (c *authConn) Peer() NodeID { return c.peer }
