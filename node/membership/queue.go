package membership

import "github.com/roster-dev/roster/internal/queue"

// eventQueue is an unbounded FIFO between memberlist's goroutines (which
// must not block) and the consumer of Events: a queue.Queue that a pump
// goroutine feeds to out in order. Membership changes are rare, so growth
// is bounded by cluster churn.
type eventQueue struct {
	q    *queue.Queue[Event]
	out  chan Event
	done chan struct{}
}

func newEventQueue() *eventQueue {
	q := &eventQueue{q: queue.New[Event](), out: make(chan Event), done: make(chan struct{})}
	go q.pump()
	return q
}

func (q *eventQueue) push(e Event) { q.q.Push(e) }

func (q *eventQueue) close() {
	q.q.Close()
	close(q.done)
}

// pump moves events to out in order until close; then it closes out.
func (q *eventQueue) pump() {
	defer close(q.out)
	for {
		select {
		case <-q.q.Wake():
		case <-q.done:
			return
		}
		for _, e := range q.q.Take() {
			select {
			case q.out <- e:
			case <-q.done:
				return
			}
		}
	}
}
