package membership

import "sync"

// eventQueue is an unbounded FIFO between memberlist's goroutines (which
// must not block) and the consumer of Events. Membership changes are rare,
// so growth is bounded by cluster churn.
type eventQueue struct {
	mu     sync.Mutex
	buf    []Event
	closed bool
	wake   chan struct{}
	out    chan Event
	done   chan struct{}
}

func newEventQueue() *eventQueue {
	q := &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
	go q.pump()
	return q
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if !q.closed {
		q.buf = append(q.buf, e)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	close(q.done)
}

// pump moves events to out in order until close; then it closes out.
func (q *eventQueue) pump() {
	defer close(q.out)
	for {
		q.mu.Lock()
		var e Event
		ok := len(q.buf) > 0
		if ok {
			e = q.buf[0]
			q.buf[0] = Event{}
			q.buf = q.buf[1:]
		}
		q.mu.Unlock()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-q.done:
				return
			}
		}
		select {
		case q.out <- e:
		case <-q.done:
			return
		}
	}
}
