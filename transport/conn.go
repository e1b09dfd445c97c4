package transport

import (
	"context"
	"errors"
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
	d        dispatcher
	peer     NodeID
	inc      uint64
	gen      uint64 // the dialer's connection number (inbound)
	outbound bool
	q        *sendQueue // inbound only: responses
	served   *requests  // inbound only: requests being served

	ctx       context.Context // cancelled when the connection closes
	cancel    context.CancelFunc
	closeOnce sync.Once
}

var _ frameSink = (*conn)(nil)

func newConn(t *TCPTransport, nc net.Conn, fr *frameReader, id *identity, outbound bool) *conn {
	c := &conn{t: t, nc: nc, fr: fr, peer: id.Node, inc: id.Incarnation, gen: id.Gen, outbound: outbound}
	c.ctx, c.cancel = context.WithCancel(t.ctx)
	c.d = dispatcher{sink: c, allowed: framesOutbound}
	c.d.in.str([]byte(id.Node))
	c.d.in.str([]byte(t.cfg.NodeID))
	if !outbound {
		c.d.allowed = framesInbound
		c.q = newSendQueue(t.cfg.QueueSize, t.cfg.QueueBytes)
		c.served = newRequests(t.cfg.MaxInflightRequests)
	}
	return c
}

// close closes the connection once, logging why, and tells the transport.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.nc.Close()
		if c.served != nil {
			c.served.closeAll()
		}
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
		ft, body, _, err := c.fr.next()
		if err == nil {
			err = c.d.dispatch(ft, body)
		}
		if err != nil {
			c.close(err)
			return
		}
	}
}

// onEnvelope hands env to the Handler if c is still the peer's newest
// inbound connection; the check and the delivery are atomic under
// deliverMu.
func (c *conn) onEnvelope(env *Envelope) error {
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

// onRequest serves m on its own goroutine and answers on this connection.
func (c *conn) onRequest(m *requestMsg) error {
	if !c.current() {
		return errSuperseded
	}
	ctx, cancel, err := c.served.start(m)
	if err != nil {
		return err
	}
	c.t.goFunc(func() {
		defer cancel()
		resp := c.served.serve(ctx, c.t.getHandler(), c.peer, m)
		if err := c.respond(&resp); errors.Is(err, ErrTooLarge) {
			_ = c.respond(&responseMsg{ID: m.ID, Error: err.Error()})
		}
	})
	return nil
}

func (c *conn) onCancel(id uint64) { c.served.cancel(id) }

func (c *conn) onResponse(id uint64, r callResult) { c.p.deliver(id, r) }

func (c *conn) respond(resp *responseMsg) error {
	maxFrame := c.t.cfg.MaxFrameSize
	return c.q.put(c.ctx, c.t.shutdown, true, func(b []byte) ([]byte, error) {
		return appendResponse(b, resp, maxFrame)
	})
}
