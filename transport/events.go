package transport

import "sync"

// peerEvent is a PeerUp (up) or PeerDown for the Handler.
type peerEvent struct {
	up    bool
	peer  NodeID
	inc   uint64
	cause error
}

// eventQueue delivers peer events to the Handler in the order they were
// queued, from one goroutine, so the callbacks never run under our locks
// and a slow handler cannot stall a connection. It is unbounded, but events
// only come from connection state changes.
type eventQueue struct {
	mu      sync.Mutex
	pending []peerEvent
	wake    chan struct{}
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(ev peerEvent) {
	q.mu.Lock()
	q.pending = append(q.pending, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers events to h until stop is closed.
func (q *eventQueue) run(h func() Handler, stop <-chan struct{}) {
	for {
		select {
		case <-q.wake:
		case <-stop:
			return
		}
		q.mu.Lock()
		evs := q.pending
		q.pending = nil
		q.mu.Unlock()
		handler := h()
		for _, ev := range evs {
			if handler == nil {
				continue
			}
			if ev.up {
				handler.PeerUp(ev.peer, ev.inc)
			} else {
				handler.PeerDown(ev.peer, ev.inc, ev.cause)
			}
		}
	}
}
