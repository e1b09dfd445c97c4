// Package queue is Roster's one hand-off queue: an unbounded FIFO between
// producers that must never block (transport reader goroutines, memberlist
// delegates, process exits) and one consumer goroutine that drains it.
// Producers Push; the consumer waits on Wake and then Takes everything
// queued, in push order.
//
// Unbounded means a caller must bound what it pushes by something else
// (the number of monitors and links, of connection state changes, of
// membership changes, of exited processes) and say so where it uses a
// Queue.
//
// All methods are safe for concurrent use; the mutex is a leaf lock (no
// callback runs under it).
package queue

import "sync"

// Queue is an unbounded FIFO of T with a wake-up channel for its consumer.
// The zero value is not usable; call New.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	wake   chan struct{}
}

// New returns an empty queue.
func New[T any]() *Queue[T] { return &Queue[T]{wake: make(chan struct{}, 1)} }

// Push appends vs and wakes the consumer. It never blocks. After Close it
// drops vs and returns false.
func (q *Queue[T]) Push(vs ...T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, vs...)
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake receives a value after one or more Pushes (one value may stand for
// many). The consumer then calls Take.
func (q *Queue[T]) Wake() <-chan struct{} { return q.wake }

// Take removes and returns everything queued, oldest first (nil if empty).
func (q *Queue[T]) Take() []T {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	return items
}

// Len is the number of items queued.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Close makes later Pushes drop their values. What is queued stays for
// Take.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}
