package node

import (
	"context"
	"fmt"
)

// ReceiveOr waits for whichever comes first: the next message in p's
// mailbox (returned as m, fromCh false) or a value from ch (returned as v,
// fromCh true), so a process can serve its mailbox and a Go channel at once
// (a WatchGlobal event stream, a ticker, a result from a goroutine it
// started). A closed ch returns fromCh true and ErrChanClosed; ctx's end
// its error; p's exit ErrExited. Like Receive, it is for p's own goroutine.
func ReceiveOr[T any](ctx context.Context, p *Process, ch <-chan T) (m Message, v T, fromCh bool, err error) {
	ctx = p.waitCtx(ctx)
	var sc scan
	for {
		msg, notify, err := p.mb.take(nil, &sc)
		if notify == nil || err != nil {
			return msg, v, false, err
		}
		select {
		case <-notify:
		case got, ok := <-ch:
			p.mb.unwait()
			if !ok {
				return Message{}, v, true, fmt.Errorf("%w: receive or", ErrChanClosed)
			}
			return Message{}, got, true, nil
		case <-ctx.Done():
			p.mb.unwait()
			return Message{}, v, false, ctx.Err()
		}
	}
}

// unwait marks the receiver as no longer waiting (it stopped for another
// reason than a message).
func (mb *mailbox) unwait() {
	mb.mu.Lock()
	mb.waiting = false
	mb.mu.Unlock()
}
