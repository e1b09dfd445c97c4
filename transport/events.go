package transport

import "github.com/roster-dev/roster/internal/queue"

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
type eventQueue struct{ q *queue.Queue[peerEvent] }

func newEventQueue() *eventQueue { return &eventQueue{q: queue.New[peerEvent]()} }

func (q *eventQueue) push(ev peerEvent) { q.q.Push(ev) }

// run delivers events to h until stop is closed.
func (q *eventQueue) run(h func() Handler, stop <-chan struct{}) {
	for {
		select {
		case <-q.q.Wake():
		case <-stop:
			return
		}
		evs := q.q.Take()
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
