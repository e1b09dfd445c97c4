package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Accept-loop backoff after a failed Accept (EMFILE, ENFILE, ECONNABORTED,
// ...): net/http's rule, 5ms doubling to 1s, reset by the next success.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// acceptHealthWindow is how long a failed Accept keeps Health failing
// when no Accept has succeeded since: longer than the longest backoff, so
// that Accepts failing over and over keep it failing, while a listener that
// recovered with nobody connecting reads healthy again soon.
const acceptHealthWindow = 2 * acceptBackoffMax

// acceptState is what Health and Stats report about the accept loop.
type acceptState struct {
	errors atomic.Uint64
	mu     sync.Mutex
	last   error     // the last Accept error; nil after a success
	at     time.Time // when it happened
	closed bool      // the listener closed under us: failing for good
}

func (a *acceptState) failed(err error, closed bool) {
	a.mu.Lock()
	a.last, a.at, a.closed = err, time.Now(), closed
	a.mu.Unlock()
}

func (a *acceptState) succeeded() {
	a.mu.Lock()
	a.last = nil
	a.mu.Unlock()
}

// failing returns the Accept error Health reports, if any.
func (a *acceptState) failing() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil || (!a.closed && time.Since(a.at) > acceptHealthWindow) {
		return nil
	}
	return a.last
}

// acceptLoop accepts connections until Close. A failed Accept never ends
// it (a closed listener aside): it backs off and retries, and Health
// reports the failure until an Accept succeeds again.
func (t *TCPTransport) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.shutdown:
				return
			default:
			}
			t.accept.errors.Add(1)
			if errors.Is(err, net.ErrClosed) {
				t.accept.failed(fmt.Errorf("%w: listener closed: %w", ErrNotAccepting, err), true)
				t.log.Error("listener closed; no longer accepting", "error", err)
				return
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			level := t.log.Debug
			if delay == acceptBackoffMin {
				level = t.log.Error // the first of a run
			}
			level("accept failed; backing off", "error", err, "retry_after", delay)
			t.accept.failed(fmt.Errorf("%w: %w", ErrNotAccepting, err), false)
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-t.shutdown:
				timer.Stop()
				return
			}
			continue
		}
		if delay != 0 {
			delay = 0
			t.log.Info("accepting connections again")
		}
		t.accept.succeeded()
		t.admitInbound(nc)
	}
}

// admitInbound gives an accepted connection a handshake slot (evicting
// another pending handshake when the pool is full) and serves it.
func (t *TCPTransport) admitInbound(nc net.Conn) {
	pc := &pendingConn{nc: nc, source: sourceOf(nc.RemoteAddr())}
	if victim := t.pending.admit(pc); victim != nil {
		t.stats.evicted.Add(1)
		t.log.Debug("handshake slots full; closed the oldest pending handshake of the busiest source",
			"remote", victim.nc.RemoteAddr())
		_ = victim.nc.Close()
	}
	t.goFunc(func() { t.serveInbound(pc) })
}

// serveInbound runs the handshake on an accepted connection, then its
// reader until it closes.
func (t *TCPTransport) serveInbound(pc *pendingConn) {
	nc := pc.nc
	if t.tlsConfig != nil {
		nc = tls.Server(nc, t.tlsConfig)
	}
	if !t.track(nc) {
		t.pending.done(pc)
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	fr := newFrameReaderSize(nc, t.cfg.MaxFrameSize, handshakeBufSize)
	id, err := acceptHandshake(t.cfg, &handshakeIO{w: nc, fr: fr})
	t.pending.done(pc)
	if err != nil {
		t.stats.refused.Add(1)
		level := t.log.Warn
		if errors.Is(err, net.ErrClosed) || isTimeout(err) {
			level = t.log.Debug // evicted or idle: a flood must not flood the log too
		}
		level("inbound handshake refused", "remote", nc.RemoteAddr(), "error", err)
		t.untrack(nc)
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(zeroTime)
	fr.grow(connBufSize)
	c := newConn(t, nc, fr, id, false)
	if !t.connUp(c) {
		t.untrack(nc)
		_ = nc.Close()
		return
	}
	c.p.admit(c)
	t.log.Debug("inbound connection up", "peer", id.Node, "remote", nc.RemoteAddr())
	t.goFunc(c.writeLoop)
	c.readLoop()
}

// isTimeout reports a deadline expiry (an idle or slow handshake).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sourceOf is the host part of a remote address: the unit of the
// per-source handshake limit.
func sourceOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// pendingConn is an inbound connection in its handshake.
type pendingConn struct {
	nc     net.Conn
	source string
	seq    uint64 // admission order: smaller is older
}

// handshakePool bounds the inbound connections that have not yet proven
// the key, in total and per source address. It never refuses a newcomer:
// when full it evicts the oldest pending handshake of the source holding
// the most slots (the newcomer's own source once that source is at its
// limit). A flood of idle or slow connections therefore only displaces
// itself: a real peer, which completes its handshake in a round trip or
// two, gets through, and a flood from one address can never take a slot
// from another address. Slots are freed as soon as a handshake ends, so
// authenticated connections hold none.
type handshakePool struct {
	max, perSource int

	mu       sync.Mutex
	seq      uint64
	pending  map[*pendingConn]struct{}
	bySource map[string]int
}

func newHandshakePool(total, perSource int) *handshakePool {
	return &handshakePool{max: total, perSource: max(1, min(perSource, total)),
		pending: make(map[*pendingConn]struct{}), bySource: make(map[string]int)}
}

// admit adds pc and returns the connection evicted to make room, if any
// (already removed from the pool; the caller closes it).
func (p *handshakePool) admit(pc *pendingConn) *pendingConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var victim *pendingConn
	switch {
	case p.bySource[pc.source] >= p.perSource:
		victim = p.oldestLocked(pc.source)
	case len(p.pending) >= p.max:
		victim = p.oldestLocked(p.busiestLocked())
	}
	if victim != nil {
		p.removeLocked(victim)
	}
	p.seq++
	pc.seq = p.seq
	p.pending[pc] = struct{}{}
	p.bySource[pc.source]++
	return victim
}

// done releases pc's slot (a no-op if it was evicted).
func (p *handshakePool) done(pc *pendingConn) {
	p.mu.Lock()
	if _, ok := p.pending[pc]; ok {
		p.removeLocked(pc)
	}
	p.mu.Unlock()
}

// len returns the number of pending handshakes.
func (p *handshakePool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

func (p *handshakePool) removeLocked(pc *pendingConn) {
	delete(p.pending, pc)
	if p.bySource[pc.source]--; p.bySource[pc.source] <= 0 {
		delete(p.bySource, pc.source)
	}
}

// busiestLocked returns the source holding the most slots.
func (p *handshakePool) busiestLocked() string {
	best, n := "", -1
	for s, c := range p.bySource {
		if c > n || (c == n && s < best) {
			best, n = s, c
		}
	}
	return best
}

// oldestLocked returns source's oldest pending connection.
func (p *handshakePool) oldestLocked(source string) *pendingConn {
	var old *pendingConn
	for pc := range p.pending {
		if pc.source == source && (old == nil || pc.seq < old.seq) {
			old = pc
		}
	}
	return old
}
