package global

// fifo is a slice-backed queue. It keeps the deterministic insertion order
// the FSM uses to evict its bounded tables (dedup ids, purged incarnations).
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) len() int { return len(q.items) - q.head }

// pop removes and returns the oldest item; ok is false when q is empty.
func (q *fifo[T]) pop() (v T, ok bool) {
	if q.len() == 0 {
		return v, false
	}
	var zero T
	v = q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append([]T(nil), q.items[q.head:]...)
		q.head = 0
	}
	return v, true
}

// each calls fn on every item, oldest first.
func (q *fifo[T]) each(fn func(T)) {
	for _, v := range q.items[q.head:] {
		fn(v)
	}
}

// remove drops every item for which drop returns true, keeping the order
// of the rest. It is O(len) and meant for rare corrections.
func (q *fifo[T]) remove(drop func(T) bool) {
	kept := make([]T, 0, q.len())
	for _, v := range q.items[q.head:] {
		if !drop(v) {
			kept = append(kept, v)
		}
	}
	q.items, q.head = kept, 0
}
