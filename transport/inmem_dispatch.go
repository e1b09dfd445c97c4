package transport

import (
	"context"
	"fmt"
	"time"
)

// dispatch handles one frame arriving at l.to, mirroring conn.dispatch.
func (l *inmemLink) dispatch(ft frameType, body []byte) error {
	from := l.from.cfg.NodeID
	switch ft {
	case frameEnvelope:
		env := new(Envelope)
		if err := decodeEnvelope(body, env, &l.in, false); err != nil {
			return err
		}
		if h := l.to.getHandler(); h != nil {
			h.HandleEnvelope(from, env)
		} else {
			l.to.dropped(1)
		}
	case frameRequest:
		m := new(requestMsg)
		var ignored string
		if err := decodeRPC(body, m, &ignored); err != nil {
			return err
		}
		return l.serve(m)
	case frameCancel:
		var m requestMsg
		var ignored string
		if err := decodeRPC(body, &m, &ignored); err != nil {
			return err
		}
		l.mu.Lock()
		cancel := l.inflight[m.ID]
		l.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case frameResponse:
		var m requestMsg
		var errText string
		if err := decodeRPC(body, &m, &errText); err != nil {
			return err
		}
		r := callResult{body: m.Body}
		if errText != "" {
			r = callResult{err: &RemoteError{Msg: errText}}
		}
		if ch := l.to.takeCall(m.ID); ch != nil {
			ch <- r
		}
	default:
		return fmt.Errorf("%w: unexpected frame type %d", ErrBadFrame, ft)
	}
	return nil
}

// serve runs a request from l.from on l.to, answering on the reverse link.
func (l *inmemLink) serve(m *requestMsg) error {
	l.mu.Lock()
	if len(l.inflight) >= 2*l.to.cfg.MaxInflightRequests {
		l.mu.Unlock()
		return fmt.Errorf("%w: %d requests running", ErrFlood, len(l.inflight))
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if m.Deadline > 0 {
		ctx, cancel = context.WithTimeout(l.c.ctx, time.Duration(m.Deadline))
	} else {
		ctx, cancel = context.WithCancel(l.c.ctx)
	}
	l.inflight[m.ID] = cancel
	l.mu.Unlock()
	back := l.c.linkTo(l.from.cfg.NodeID)
	l.to.goFunc(func() {
		defer cancel()
		resp := responseMsg{ID: m.ID}
		if h := l.to.getHandler(); h == nil {
			resp.Error = "no handler installed"
		} else if body, err := h.HandleRequest(ctx, l.from.cfg.NodeID, m.Method, m.Body); err != nil {
			resp.Error = errorText(err)
		} else {
			resp.Body = body
		}
		l.mu.Lock()
		delete(l.inflight, m.ID)
		l.mu.Unlock()
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
