package transport

import (
	"context"
	"sync"
)

// sendQueue is a bounded queue of encoded frames drained by one writer.
// Senders encode straight into its buffer under mu, and the writer takes
// the whole buffer at once and writes it with one syscall: that is the
// write coalescing. Bounds: maxFrames frames and, roughly, maxBytes bytes
// (one frame may overshoot by at most MaxFrameSize).
type sendQueue struct {
	maxFrames int
	maxBytes  int
	wake      chan struct{} // cap 1: the writer has work

	mu      sync.Mutex
	buf     []byte
	frames  int
	envs    int           // how many of frames are envelopes (for drop counts)
	err     error         // non-nil once closed
	space   chan struct{} // closed when the writer takes the buffer
	waiting bool          // a sender is blocked on space
}

func newSendQueue(maxFrames, maxBytes int) *sendQueue {
	return &sendQueue{
		maxFrames: maxFrames,
		maxBytes:  maxBytes,
		wake:      make(chan struct{}, 1),
		space:     make(chan struct{}),
	}
}

// put appends one frame produced by encode. When the queue is full it
// blocks until there is room or ctx or stop is done (block), or returns
// ErrQueueFull (!block). encode must append exactly one frame or fail and
// leave its input as it was.
func (q *sendQueue) put(ctx context.Context, stop <-chan struct{}, block bool,
	encode func([]byte) ([]byte, error)) error {
	q.mu.Lock()
	for q.err == nil && (q.frames >= q.maxFrames || len(q.buf) >= q.maxBytes) {
		if !block {
			q.mu.Unlock()
			return ErrQueueFull
		}
		q.waiting = true
		ch := q.space
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrClosed
		}
		q.mu.Lock()
	}
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return err
	}
	start := len(q.buf)
	b, err := encode(q.buf)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	q.buf = b
	q.frames++
	if len(b) > start+4 && frameType(b[start+4]) == frameEnvelope {
		q.envs++
	}
	wasEmpty := start == 0
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// take hands the writer every queued frame, and how many of them are
// envelopes, and gives the queue spare (a buffer the writer is done with)
// to fill next.
func (q *sendQueue) take(spare []byte) ([]byte, int) {
	q.mu.Lock()
	b, envs := q.buf, q.envs
	q.buf = spare[:0]
	q.frames, q.envs = 0, 0
	q.releaseLocked()
	q.mu.Unlock()
	return b, envs
}

// reset drops every queued frame (the connection they were meant for is
// gone) and returns how many envelopes were dropped.
func (q *sendQueue) reset() int {
	q.mu.Lock()
	n := q.envs
	q.buf = q.buf[:0]
	q.frames, q.envs = 0, 0
	q.releaseLocked()
	q.mu.Unlock()
	return n
}

// close fails every later put with err, wakes blocked senders and returns
// how many queued envelopes it dropped.
func (q *sendQueue) close(err error) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return 0
	}
	n := q.envs
	q.err = err
	q.buf = nil
	q.frames, q.envs = 0, 0
	q.waiting = true
	q.releaseLocked()
	return n
}

func (q *sendQueue) releaseLocked() {
	if q.waiting {
		close(q.space)
		q.space = make(chan struct{})
		q.waiting = false
	}
}
