package global

import (
	"context"
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
}

func newGroupCommit(maxBatch, maxInflight int, flush func([]*pending), stop <-chan struct{}, goFn func(func())) *groupCommit {
	return &groupCommit{
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
		batch := make([]*pending, 1, min(g.maxBatch, 1+len(g.in)))
		batch[0] = first
	drain:
		for len(batch) < g.maxBatch {
			select {
			case p := <-g.in:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		g.goFn(func() {
			defer func() { <-g.sem }()
			g.flush(batch)
		})
	}
}

// deliverAll sends r to every pending in batch.
func deliverAll(batch []*pending, r result) {
	for _, p := range batch {
		p.done <- r
	}
}
