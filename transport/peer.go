package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
)

var zeroTime time.Time

// peer is a remote node as the TCPTransport sees it: its address, its one
// outbound connection (opened lazily by the writer goroutine), the
// connections it opened to us, and the calls waiting for its responses.
type peer struct {
	t    *TCPTransport
	id   NodeID
	q    *sendQueue    // envelopes, requests and cancels for the outbound conn
	stop chan struct{} // closed when the peer is removed

	// Under t.mu.
	addr         string // "" when only known from an inbound connection
	expectInc    uint64
	out          *conn              // current outbound connection
	conns        map[*conn]struct{} // authenticated connections, both ways
	upInc        uint64             // incarnation reported by PeerUp; 0: down
	writing      bool               // writeLoop started
	detached     bool
	lastErr      error // last dial failure, a *PeerError
	failures     int   // consecutive dial failures
	backoffUntil time.Time

	slots chan struct{} // one per call in flight: at most MaxInflightRequests

	// deliverMu serialises delivery from the peer's inbound connections;
	// only the newest (inInc, inGen) may deliver. Never taken under t.mu.
	deliverMu sync.Mutex
	inInc     uint64
	inGen     uint64

	callMu   sync.Mutex
	calls    map[uint64]chan callResult
	callsErr error // set on detach: no new calls
}

type callResult struct {
	body []byte
	err  error
}

// outcome returns the call's result, preferring ctx's error when the
// server failed because it hit the same deadline first.
func (r callResult) outcome(ctx context.Context) ([]byte, error) {
	if r.err != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return nil, context.DeadlineExceeded
		}
	}
	return r.body, r.err
}

func newPeer(t *TCPTransport, id NodeID) *peer {
	return &peer{
		t:     t,
		id:    id,
		q:     newSendQueue(t.cfg.QueueSize, t.cfg.QueueBytes),
		stop:  make(chan struct{}),
		conns: make(map[*conn]struct{}),
		calls: make(map[uint64]chan callResult),
		slots: make(chan struct{}, t.cfg.MaxInflightRequests),
	}
}

// detachLocked shuts the peer down for RemovePeer or Close and returns its
// connections for the caller to close after unlocking t.mu.
func (p *peer) detachLocked(cause *PeerError) []*conn {
	if p.detached {
		return nil
	}
	p.detached = true
	close(p.stop)
	p.t.dropped(p.q.close(cause))
	p.callMu.Lock()
	p.callsErr = cause
	p.callMu.Unlock()
	p.failCalls(cause)
	if p.upInc != 0 && !errors.Is(cause, ErrClosed) {
		p.t.events.push(peerEvent{peer: p.id, inc: p.upInc, cause: cause})
	}
	p.upInc = 0
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.out = nil
	return conns
}

// admit makes inbound connection c the one the peer delivers from, unless
// a newer one already is.
func (p *peer) admit(c *conn) {
	p.deliverMu.Lock()
	if c.inc != p.inInc {
		p.inInc, p.inGen = c.inc, c.gen
	} else if c.gen > p.inGen {
		p.inGen = c.gen
	}
	p.deliverMu.Unlock()
}

// writeLoop is the peer's writer: it dials when there is something to send
// and no connection, and writes everything queued with one Write.
func (p *peer) writeLoop() {
	var spare []byte
	for {
		select {
		case <-p.q.wake:
		case <-p.stop:
			return
		}
		c, err := p.connection()
		if err != nil {
			p.dialFailed(err)
			continue
		}
		runtime.Gosched() // let other senders add to this batch
		b, envs := p.q.take(spare)
		if len(b) == 0 {
			spare = b
			continue
		}
		spare = nil // handed to the queue by take
		if err := c.write(b); err != nil {
			p.t.dropped(envs) // lost with the connection, as far as we know
			c.close(err)
			continue
		}
		spare = recycle(b)
	}
}

// recycle keeps a written buffer for reuse while it is well used, so a
// busy peer's batches do not regrow from nothing each time (that costs more
// than the copy itself); a buffer that was mostly empty this time is let go,
// so memory shrinks back after a burst.
func recycle(b []byte) []byte {
	if cap(b) > 2*len(b)+64<<10 {
		return nil
	}
	return b[:0]
}

// connection returns the outbound connection, dialling if there is none.
func (p *peer) connection() (*conn, error) {
	p.t.mu.RLock()
	c, addr, inc := p.out, p.addr, p.expectInc
	p.t.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	return p.dial(addr, inc)
}

func (p *peer) dial(addr string, inc uint64) (*conn, error) {
	t := p.t
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.DialTimeout)
	defer cancel()
	nc, err := t.dialer(ctx, addr)
	if err != nil {
		return nil, err
	}
	if !t.track(nc) {
		_ = nc.Close()
		return nil, ErrClosed
	}
	_ = nc.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	fr := newFrameReader(nc, t.cfg.MaxFrameSize)
	hello, err := dialHandshake(t.cfg, &handshakeIO{w: nc, fr: fr}, p.id, inc, t.dialGen.Add(1))
	if err != nil {
		t.untrack(nc)
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(zeroTime)
	c := newConn(t, nc, fr, hello, true)
	c.p = p
	if !t.connUp(c) {
		t.untrack(nc)
		_ = nc.Close()
		return nil, ErrPeerRemoved
	}
	t.log.Debug("outbound connection up", "peer", p.id, "addr", addr)
	t.goFunc(c.readLoop)
	return c, nil
}

// dialFailed records a failed dial: queued frames and pending calls fail,
// and sends fail fast until the backoff expires.
func (p *peer) dialFailed(err error) {
	t := p.t
	perr := &PeerError{Peer: p.id, Err: err}
	t.mu.Lock()
	p.failures++
	wait := t.backoff(p.failures)
	p.lastErr = perr
	p.backoffUntil = t.now().Add(wait)
	t.mu.Unlock()
	dropped := p.q.reset()
	t.dropped(dropped)
	p.failCalls(perr)
	level := t.log.Warn
	if errors.Is(err, ErrHandshake) && !errors.Is(err, ErrWrongPeer) {
		level = t.log.Error // misconfiguration; a wrong peer is usually a restart in progress
	}
	level("cannot connect to peer", "peer", p.id, "error", err, "dropped", dropped, "retry_after", wait)
}

// call runs one RPC over the outbound connection.
// Calls beyond MaxInflightRequests wait for a slot, so that we never look
// like a flood to a peer configured like us.
func (p *peer) call(ctx context.Context, method string, body []byte) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.stop:
		return nil, &PeerError{Peer: p.id, Err: ErrPeerRemoved}
	}
	id := p.t.nextID.Add(1)
	ch := make(chan callResult, 1)
	p.callMu.Lock()
	if p.callsErr != nil {
		p.callMu.Unlock()
		return nil, p.callsErr
	}
	p.calls[id] = ch
	p.callMu.Unlock()
	m := requestMsg{ID: id, Method: method, Body: body}
	m.Deadline = deadlineOf(ctx.Deadline())
	maxFrame := p.t.cfg.MaxFrameSize
	err := p.q.put(ctx, p.t.shutdown, true, func(b []byte) ([]byte, error) {
		return appendRequest(b, &m, maxFrame)
	})
	if err != nil {
		p.takeCall(id)
		return nil, err
	}
	select {
	case r := <-ch:
		return r.outcome(ctx)
	case <-ctx.Done():
		if p.takeCall(id) == nil {
			return (<-ch).outcome(ctx) // the result raced in
		}
		_ = p.q.put(ctx, nil, false, func(b []byte) ([]byte, error) {
			return appendCancel(b, id), nil
		})
		return nil, ctx.Err()
	}
}

// takeCall removes and returns call id's channel (nil if already gone).
func (p *peer) takeCall(id uint64) chan callResult {
	p.callMu.Lock()
	ch := p.calls[id]
	delete(p.calls, id)
	p.callMu.Unlock()
	return ch
}

// deliver completes call id with r, if it is still waiting.
func (p *peer) deliver(id uint64, r callResult) {
	if ch := p.takeCall(id); ch != nil {
		ch <- r
	}
}

// failCalls fails every pending call with err.
func (p *peer) failCalls(err error) {
	p.callMu.Lock()
	for id, ch := range p.calls {
		ch <- callResult{err: err}
		delete(p.calls, id)
	}
	p.callMu.Unlock()
}

// connUp registers an authenticated connection and reports PeerUp (and
// PeerDown for a previous incarnation). It returns false if the transport
// closed or the peer was removed meanwhile.
func (t *TCPTransport) connUp(c *conn) bool {
	t.mu.Lock()
	if t.closed || (c.p != nil && c.p.detached) {
		t.mu.Unlock()
		return false
	}
	if c.p == nil {
		c.p = t.peerLocked(c.peer)
	}
	p := c.p
	var stale []*conn
	if p.upInc != 0 && p.upInc != c.inc {
		cause := &PeerError{Peer: p.id, Err: ErrIncarnationChanged}
		for o := range p.conns {
			stale = append(stale, o)
			delete(p.conns, o)
		}
		p.out = nil
		t.dropped(p.q.reset())
		p.failCalls(cause)
		t.events.push(peerEvent{peer: p.id, inc: p.upInc, cause: cause})
		p.upInc = 0
	}
	p.conns[c] = struct{}{}
	if c.outbound {
		p.out, p.lastErr, p.failures = c, nil, 0
	}
	if p.upInc == 0 {
		p.upInc = c.inc
		t.events.push(peerEvent{up: true, peer: p.id, inc: c.inc})
	}
	t.mu.Unlock()
	for _, o := range stale {
		o.close(ErrIncarnationChanged)
	}
	return true
}

// connDown unregisters a closed connection; when it was the last one the
// Handler hears PeerDown.
func (t *TCPTransport) connDown(c *conn, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := c.p
	if p == nil {
		return
	}
	if _, ok := p.conns[c]; !ok {
		return
	}
	delete(p.conns, c)
	cause := &PeerError{Peer: p.id, Err: fmt.Errorf("%w: %w", ErrConnLost, err)}
	if p.out == c {
		p.out = nil
		t.dropped(p.q.reset())
		p.failCalls(cause)
	}
	if len(p.conns) == 0 && p.upInc != 0 {
		t.events.push(peerEvent{peer: p.id, inc: p.upInc, cause: cause})
		p.upInc = 0
	}
	if len(p.conns) == 0 && p.addr == "" && !p.detached && t.peers[p.id] == p {
		delete(t.peers, p.id) // known only from its inbound connection
	}
}

// backoff returns the wait after n consecutive failures: RedialMin doubling
// up to RedialMax, minus up to 50% jitter. Caller holds t.mu.
func (t *TCPTransport) backoff(n int) time.Duration {
	d := t.cfg.RedialMin
	for i := 1; i < n && d < t.cfg.RedialMax; i++ {
		d *= 2
	}
	d = min(d, t.cfg.RedialMax)
	return d - time.Duration(t.rng.Int64N(int64(d)/2+1))
}

// dialer opens a raw connection (TLS on top when configured).
func (t *TCPTransport) dialer(ctx context.Context, addr string) (net.Conn, error) {
	var nc net.Conn
	var err error
	if t.cfg.Dialer != nil {
		nc, err = t.cfg.Dialer(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if t.tlsConfig != nil {
		nc = tlsClient(nc, t.tlsConfig, addr)
	}
	return nc, nil
}

// isQuiet reports errors that are a normal end of a connection.
func isQuiet(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, ErrClosed) ||
		errors.Is(err, ErrPeerRemoved) || errors.Is(err, ErrIncarnationChanged) || errors.Is(err, errSuperseded)
}
