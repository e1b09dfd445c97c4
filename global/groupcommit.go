package global

import (
	"context"
	"time"
)

// pending is one command waiting for its outcome. done has room for exactly
// the one result the flusher sends.
type pending struct {
	cmd  command
	done chan result
}

func newPending(c command) *pending { return &pending{cmd: c, done: make(chan result, 1)} }

// groupCommit packs concurrent writes into batches: while up to maxInflight
// batches are in flight, newly submitted commands queue up and leave
// together as the next batch (one raft entry, one fsync; or one RPC). A lone
// writer is never delayed: an idle committer flushes at once.
type groupCommit struct {
	in       chan *pending
	maxBatch int
	sem      chan struct{}
	// flush delivers exactly one result to every pending in batch. It runs
	// on its own goroutine and may block.
	flush func(batch []*pending)
	stop  <-chan struct{}
	goFn  func(func())
	// linger is how long a batch may wait for the writers of the previous
	// batch to come back (0: never wait). Under load they return within
	// microseconds of their commit; waiting for them lets one entry carry
	// them and everyone who queued meanwhile, instead of batches
	// alternating between two halves of the writers. A lone writer
	// (previous batch of 1) never waits.
	linger time.Duration
	last   int // size of the previous batch; only run touches it
}

func newGroupCommit(maxBatch, maxInflight int, linger time.Duration, flush func([]*pending), stop <-chan struct{}, goFn func(func())) *groupCommit {
	return &groupCommit{
		linger:   linger,
		in:       make(chan *pending, maxBatch),
		maxBatch: maxBatch,
		sem:      make(chan struct{}, maxInflight),
		flush:    flush,
		stop:     stop,
		goFn:     goFn,
	}
}

// submit queues p. It fails only when ctx is done or the table stops, and
// then p was not queued.
func (g *groupCommit) submit(ctx context.Context, p *pending) error {
	select {
	case g.in <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return ErrShutdown
	}
}

// run is the batching loop; it returns when stop closes.
func (g *groupCommit) run() {
	for {
		select {
		case g.sem <- struct{}{}:
		case <-g.stop:
			return
		}
		var first *pending
		select {
		case first = <-g.in:
		case <-g.stop:
			return
		}
		batch, ok := g.collect(first)
		if !ok {
			return
		}
		g.goFn(func() {
			defer func() { <-g.sem }()
			g.flush(batch)
		})
	}
}

// collect builds a batch starting with first: everything already queued,
// then, under load, whatever arrives within linger until the batch also
// holds as many writers as the previous batch had. ok is false when stop
// closed.
func (g *groupCommit) collect(first *pending) (batch []*pending, ok bool) {
	target := min(g.maxBatch, 1+len(g.in)+g.last)
	batch = make([]*pending, 1, target)
	batch[0] = first
	for len(batch) < g.maxBatch {
		select {
		case p := <-g.in:
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if g.linger > 0 && g.last > 1 && len(batch) < target {
		timer := time.NewTimer(g.linger)
		defer timer.Stop()
	wait:
		for len(batch) < target {
			select {
			case p := <-g.in:
				batch = append(batch, p)
			case <-timer.C:
				break wait
			case <-g.stop:
				return nil, false
			}
		}
	}
	g.last = len(batch)
	return batch, true
}

// deliverAll sends r to every pending in batch.
func deliverAll(batch []*pending, r result) {
	for _, p := range batch {
		p.done <- r
	}
}
