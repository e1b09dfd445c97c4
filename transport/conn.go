package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
)

// conn is one authenticated connection. An outbound conn carries our
// envelopes, requests and cancels (written by its peer's writeLoop) and
// their responses; an inbound conn carries the peer's envelopes, requests
// and cancels, and our responses (written by the conn's own writeLoop).
type conn struct {
	t        *TCPTransport
	p        *peer // set before connUp; then fixed
	nc       net.Conn
	fr       *frameReader
	peer     NodeID
	inc      uint64
	gen      uint64 // the dialer's connection number (inbound)
	outbound bool
	in       interner
	q        *sendQueue // inbound only: responses

	ctx       context.Context // cancelled when the connection closes
	cancel    context.CancelFunc
	closeOnce sync.Once

	mu       sync.Mutex
	inflight map[uint64]context.CancelFunc // requests being served
	closed   bool                          // set by close: serve no more
}

func newConn(t *TCPTransport, nc net.Conn, fr *frameReader, id *identity, outbound bool) *conn {
	c := &conn{t: t, nc: nc, fr: fr, peer: id.Node, inc: id.Incarnation, gen: id.Gen, outbound: outbound}
	c.ctx, c.cancel = context.WithCancel(t.ctx)
	c.in.str([]byte(id.Node))
	c.in.str([]byte(t.cfg.NodeID))
	if !outbound {
		c.q = newSendQueue(t.cfg.QueueSize, t.cfg.QueueBytes)
		c.inflight = make(map[uint64]context.CancelFunc)
	}
	return c
}

// close closes the connection once, logging why, and tells the transport.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.nc.Close()
		c.mu.Lock()
		for _, cancel := range c.inflight {
			cancel()
		}
		c.closed = true
		c.mu.Unlock()
		if c.q != nil {
			c.q.close(ErrConnLost)
		}
		c.t.untrack(c.nc)
		c.t.connDown(c, err)
		if isQuiet(err) {
			c.t.log.Debug("connection closed", "peer", c.peer, "outbound", c.outbound, "reason", err)
		} else {
			c.t.log.Warn("connection closed", "peer", c.peer, "outbound", c.outbound, "reason", err)
		}
	})
}

// write writes one coalesced batch of frames.
func (c *conn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.t.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	return err
}

// writeLoop writes responses on an inbound connection.
func (c *conn) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.q.wake:
		case <-c.ctx.Done():
			return
		}
		runtime.Gosched() // let other handlers add to this batch
		b, _ := c.q.take(spare)
		if len(b) == 0 {
			spare = b
			continue
		}
		if err := c.write(b); err != nil {
			c.close(err)
			return
		}
		spare = recycle(b)
	}
}

// readLoop reads and dispatches frames until the connection fails; any
// malformed frame closes it.
func (c *conn) readLoop() {
	for {
		ft, body, owned, err := c.fr.next()
		if err == nil {
			err = c.dispatch(ft, body, owned)
		}
		if err != nil {
			c.close(err)
			return
		}
	}
}

func (c *conn) dispatch(ft frameType, body []byte, owned bool) error {
	switch {
	case ft == frameEnvelope && !c.outbound:
		env := new(Envelope)
		if err := decodeEnvelope(body, env, &c.in, owned); err != nil {
			return err
		}
		return c.deliver(env)
	case ft == frameRequest && !c.outbound:
		m := new(requestMsg)
		var ignored string
		if err := decodeRPC(body, m, &ignored); err != nil {
			return err
		}
		if !c.current() {
			return errSuperseded
		}
		return c.serve(m)
	case ft == frameCancel && !c.outbound:
		var m requestMsg
		var ignored string
		if err := decodeRPC(body, &m, &ignored); err != nil {
			return err
		}
		c.mu.Lock()
		cancel := c.inflight[m.ID]
		c.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return nil
	case ft == frameResponse && c.outbound:
		var m requestMsg
		var errText string
		if err := decodeRPC(body, &m, &errText); err != nil {
			return err
		}
		r := callResult{body: m.Body}
		if errText != "" {
			r = callResult{err: &RemoteError{Msg: errText}}
		}
		c.p.deliver(m.ID, r)
		return nil
	}
	return fmt.Errorf("%w: unexpected frame type %d (outbound %v)", ErrBadFrame, ft, c.outbound)
}

// deliver hands env to the Handler if c is still the peer's newest inbound
// connection; the check and the delivery are atomic under deliverMu.
func (c *conn) deliver(env *Envelope) error {
	p := c.p
	p.deliverMu.Lock()
	defer p.deliverMu.Unlock()
	if c.inc != p.inInc || c.gen != p.inGen {
		c.t.dropped(1)
		return errSuperseded
	}
	if h := c.t.getHandler(); h != nil {
		h.HandleEnvelope(c.peer, env)
	} else {
		c.t.dropped(1)
	}
	return nil
}

// current reports whether c is the peer's newest inbound connection.
func (c *conn) current() bool {
	c.p.deliverMu.Lock()
	defer c.p.deliverMu.Unlock()
	return c.inc == c.p.inInc && c.gen == c.p.inGen
}

// serve starts a request on its own goroutine. A peer like us never has
// more than MaxInflightRequests running; twice that (the slack covers
// cancelled calls still winding down here) is a flood.
func (c *conn) serve(m *requestMsg) error {
	c.mu.Lock()
	if len(c.inflight) >= 2*c.t.cfg.MaxInflightRequests {
		c.mu.Unlock()
		return fmt.Errorf("%w: %d requests running", ErrFlood, len(c.inflight))
	}
	if c.closed {
		c.mu.Unlock()
		return ErrConnLost
	}
	if _, dup := c.inflight[m.ID]; dup {
		c.mu.Unlock()
		return fmt.Errorf("%w: duplicate request id %d", ErrBadFrame, m.ID)
	}
	// Not derived from c.ctx: registering thousands of children on one
	// parent contends on its lock. close cancels everything in inflight.
	var ctx context.Context
	var cancel context.CancelFunc
	if m.Deadline > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(m.Deadline))
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	c.inflight[m.ID] = cancel
	c.mu.Unlock()
	c.t.goFunc(func() { c.runRequest(ctx, cancel, m) })
	return nil
}

func (c *conn) runRequest(ctx context.Context, cancel context.CancelFunc, m *requestMsg) {
	defer cancel()
	resp := responseMsg{ID: m.ID}
	h := c.t.getHandler()
	if h == nil {
		resp.Error = "no handler installed"
	} else if body, err := h.HandleRequest(ctx, c.peer, m.Method, m.Body); err != nil {
		resp.Error = errorText(err)
	} else {
		resp.Body = body
	}
	c.mu.Lock()
	delete(c.inflight, m.ID)
	c.mu.Unlock()
	if err := c.respond(&resp); errors.Is(err, ErrTooLarge) {
		_ = c.respond(&responseMsg{ID: m.ID, Error: err.Error()})
	}
}

func (c *conn) respond(resp *responseMsg) error {
	maxFrame := c.t.cfg.MaxFrameSize
	return c.q.put(c.ctx, c.t.shutdown, true, func(b []byte) ([]byte, error) {
		return appendResponse(b, resp, maxFrame)
	})
}

// errorText is err's text for a response; never empty, since an empty
// error string means success on the wire.
func errorText(err error) string {
	if s := err.Error(); s != "" {
		return s
	}
	return "error"
}
