package transport

import (
	"context"
	"errors"
	"time"
)

// inmemLink carries frames in one direction of an inmemConn.
type inmemLink struct {
	c        *inmemConn
	from, to *InmemTransport
	q        *sendQueue
	d        dispatcher
	slots    chan struct{} // calls in flight from "from": MaxInflightRequests
	served   *requests     // requests from "from" served by "to"
}

var _ frameSink = (*inmemLink)(nil)

func newInmemLink(c *inmemConn, from, to *InmemTransport) *inmemLink {
	l := &inmemLink{c: c, from: from, to: to,
		q:      newSendQueue(to.cfg.QueueSize, to.cfg.QueueBytes),
		served: newRequests(to.cfg.MaxInflightRequests),
		slots:  make(chan struct{}, from.cfg.MaxInflightRequests)}
	l.d = dispatcher{sink: l, allowed: framesLink}
	return l
}

// run delivers batches in order, after the link's delay, until the
// connection breaks.
func (l *inmemLink) run() {
	var spare []byte
	for {
		select {
		case <-l.q.wake:
		case <-l.c.ctx.Done():
			return
		}
		b, _ := l.q.take(spare)
		if d := l.to.net.delay(l.from.cfg.NodeID, l.to.cfg.NodeID); d > 0 && len(b) > 0 {
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-l.c.ctx.Done():
				timer.Stop()
				return
			}
		}
		for rest := b; len(rest) > 0; {
			ft, body, next, err := splitFrame(rest, l.to.cfg.MaxFrameSize)
			if err == nil {
				err = l.deliver(ft, body)
			}
			if errors.Is(err, context.Canceled) {
				l.from.dropped(countEnvelopes(rest, l.to.cfg.MaxFrameSize))
				return // the connection broke: drop the rest, like TCP
			}
			if err != nil {
				l.fail(err)
				return
			}
			rest = next
		}
		spare = recycle(b)
	}
}

// deliver dispatches one frame unless the connection has broken, atomically
// with respect to other links into the same node.
func (l *inmemLink) deliver(ft frameType, body []byte) error {
	l.to.deliverMu.Lock()
	defer l.to.deliverMu.Unlock()
	if err := l.c.ctx.Err(); err != nil {
		return err
	}
	return l.d.dispatch(ft, body)
}

// fail breaks the connection because of a bad frame, as TCP would.
func (l *inmemLink) fail(err error) {
	l.to.log.Warn("connection closed", "peer", l.from.cfg.NodeID, "reason", err)
	l.to.net.mu.Lock()
	l.to.net.breakLocked(l.c, err)
	l.to.net.mu.Unlock()
}

// countEnvelopes counts the envelope frames in a batch (for drop counts).
func countEnvelopes(b []byte, maxFrame int) int {
	n := 0
	for len(b) > 0 {
		ft, _, next, err := splitFrame(b, maxFrame)
		if err != nil {
			break
		}
		if ft == frameEnvelope {
			n++
		}
		b = next
	}
	return n
}

// onEnvelope delivers an envelope from l.from to l.to's Handler.
func (l *inmemLink) onEnvelope(env *Envelope) error {
	if h := l.to.getHandler(); h != nil {
		h.HandleEnvelope(l.from.cfg.NodeID, env)
	} else {
		l.to.dropped(1)
	}
	return nil
}

// onRequest serves a request from l.from on l.to, answering on the
// reverse link (unless the network drops the response).
func (l *inmemLink) onRequest(m *requestMsg) error {
	ctx, cancel, err := l.served.start(m)
	if err != nil {
		return err
	}
	back := l.c.linkTo(l.from.cfg.NodeID)
	l.to.goFunc(func() {
		defer cancel()
		resp := l.served.serve(ctx, l.to.getHandler(), l.from.cfg.NodeID, m)
		l.to.net.mu.Lock()
		drop := l.to.net.dropLocked(l.to.cfg.NodeID, l.from.cfg.NodeID)
		l.to.net.mu.Unlock()
		if drop {
			return
		}
		maxFrame := l.to.cfg.MaxFrameSize
		_ = back.q.put(l.c.ctx, l.to.shutdown, true, func(b []byte) ([]byte, error) {
			return appendResponse(b, &resp, maxFrame)
		})
	})
	return nil
}

func (l *inmemLink) onCancel(id uint64) { l.served.cancel(id) }

// onResponse completes l.to's call id.
func (l *inmemLink) onResponse(id uint64, r callResult) {
	if ch := l.to.takeCall(id); ch != nil {
		ch <- r
	}
}
