package transport

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// One frame dispatch for every transport. A TCP connection and an
// in-memory link both read frames (from a socket, from a coalesced batch)
// and hand each to their dispatcher, which decodes it once and calls their
// frameSink; the request bookkeeping (in-flight table, flood and duplicate
// checks, cancel, running the Handler) is the requests type below, shared
// too. What differs between transports is only where frames come from and
// where responses go.

// frameSink receives what a dispatcher decoded. Its methods are called on
// the reader goroutine, in frame order, and must not block.
type frameSink interface {
	// onEnvelope delivers an inbound envelope to the Handler.
	onEnvelope(env *Envelope) error
	// onRequest starts serving a request (on its own goroutine).
	onRequest(m *requestMsg) error
	// onCancel cancels request id, if it is still being served.
	onCancel(id uint64)
	// onResponse completes our call id with r.
	onResponse(id uint64, r callResult)
}

// frameSet is a set of frame types, as bits.
type frameSet uint16

func framesOf(types ...frameType) frameSet {
	var s frameSet
	for _, t := range types {
		s |= 1 << t
	}
	return s
}

func (s frameSet) has(t frameType) bool { return t < 16 && s&(1<<t) != 0 }

// Frame types by direction. An inbound TCP connection carries the peer's
// envelopes, requests and cancels; an outbound one carries the responses to
// ours; an in-memory link carries all four, in one direction.
var (
	framesInbound  = framesOf(frameEnvelope, frameRequest, frameCancel)
	framesOutbound = framesOf(frameResponse)
	framesLink     = framesInbound | framesOutbound
)

// dispatcher decodes the frames of one direction of one connection.
type dispatcher struct {
	sink    frameSink
	allowed frameSet
	in      interner
	env     Envelope // every envelope is decoded here: Handlers must not keep it
}

// dispatch decodes one frame and hands it to the sink. body must stay valid
// until dispatch returns: an envelope is decoded into d.env with its Body
// pointing into body, so that receiving one allocates nothing (see
// Handler.HandleEnvelope). An error closes the connection: a type this
// direction does not carry, a body that does not decode, or whatever the
// sink refuses.
func (d *dispatcher) dispatch(ft frameType, body []byte) error {
	if !d.allowed.has(ft) {
		return fmt.Errorf("%w: unexpected frame type %d on this connection", ErrBadFrame, ft)
	}
	if ft == frameEnvelope {
		d.env = Envelope{}
		if err := decodeEnvelope(body, &d.env, &d.in, true); err != nil {
			return err
		}
		return d.sink.onEnvelope(&d.env)
	}
	if ft == frameRequest {
		m := new(requestMsg) // kept by the goroutine serving it
		var ignored string
		if err := decodeRPC(body, m, &ignored); err != nil {
			return err
		}
		return d.sink.onRequest(m)
	}
	var m requestMsg
	var errText string
	if err := decodeRPC(body, &m, &errText); err != nil {
		return err
	}
	if ft == frameCancel {
		d.sink.onCancel(m.ID)
		return nil
	}
	r := callResult{body: m.Body} // frameResponse
	if errText != "" {
		r = callResult{err: &RemoteError{Msg: errText}}
	}
	d.sink.onResponse(m.ID, r)
	return nil
}

// requests is the table of requests one connection is serving. A peer like
// us never has more than MaxInflightRequests running; twice that (the
// slack covers cancelled calls still winding down here) is a flood.
type requests struct {
	limit int

	mu       sync.Mutex
	inflight map[uint64]context.CancelFunc
	closed   bool
}

func newRequests(maxInflight int) *requests {
	return &requests{limit: 2 * maxInflight, inflight: make(map[uint64]context.CancelFunc)}
}

// start registers m and returns the ctx to serve it with (bounded by the
// caller's deadline), or why the connection must close instead.
func (rs *requests) start(m *requestMsg) (context.Context, context.CancelFunc, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch _, dup := rs.inflight[m.ID]; {
	case rs.closed:
		return nil, nil, ErrConnLost
	case len(rs.inflight) >= rs.limit:
		return nil, nil, fmt.Errorf("%w: %d requests running", ErrFlood, len(rs.inflight))
	case dup:
		return nil, nil, fmt.Errorf("%w: duplicate request id %d", ErrBadFrame, m.ID)
	}
	// Not derived from the connection's ctx: registering thousands of
	// children on one parent contends on its lock. closeAll cancels them.
	var ctx context.Context
	var cancel context.CancelFunc
	if m.Deadline > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(m.Deadline))
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	rs.inflight[m.ID] = cancel
	return ctx, cancel, nil
}

// cancel cancels request id if it is running.
func (rs *requests) cancel(id uint64) {
	rs.mu.Lock()
	cancel := rs.inflight[id]
	rs.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// serve runs m's Handler and returns the response to send; it removes m
// from the table.
func (rs *requests) serve(ctx context.Context, h Handler, from NodeID, m *requestMsg) responseMsg {
	resp := responseMsg{ID: m.ID}
	if h == nil {
		resp.Error = "no handler installed"
	} else if body, err := h.HandleRequest(ctx, from, m.Method, m.Body); err != nil {
		resp.Error = errorText(err)
	} else {
		resp.Body = body
	}
	rs.mu.Lock()
	delete(rs.inflight, m.ID)
	rs.mu.Unlock()
	return resp
}

// closeAll cancels every running request and refuses new ones.
func (rs *requests) closeAll() {
	rs.mu.Lock()
	rs.closed = true
	for _, cancel := range rs.inflight {
		cancel()
	}
	rs.mu.Unlock()
}

// errorText is err's text for a response; never empty, since an empty
// error string means success on the wire.
func errorText(err error) string {
	if s := err.Error(); s != "" {
		return s
	}
	return "error"
}
