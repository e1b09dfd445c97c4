package global

import (
	"context"
	"fmt"
	"strings"
)

// watchBuffer is how many live events a watcher may have queued before it
// is dropped as too slow.
const watchBuffer = 1024

// watcher is one Watch subscription. Its channel is written only with f.mu
// held, and closed exactly once (closed records it).
type watcher struct {
	prefix string
	ch     chan Event
	stop   chan struct{}
	closed bool
}

// emit records an event in the ring and hands it to matching watchers.
// Called from Apply with f.mu held; never blocks.
func (f *fsm) emit(t EventType, reg Registration, idx uint64, why Reason) {
	e := Event{Type: t, Name: reg.Name, Owner: reg.Owner, Meta: reg.Meta, Fence: reg.Fence, Index: idx, Reason: why}
	f.ring.add(e)
	for w := range f.watchers {
		if !strings.HasPrefix(e.Name, w.prefix) {
			continue
		}
		// Keep one slot free for the terminal error event.
		if len(w.ch) >= cap(w.ch)-1 {
			f.closeWatcher(w, ErrWatcherTooSlow)
			continue
		}
		w.ch <- e
	}
}

// closeWatcher ends w with a terminal EventError carrying err (nil: no
// event). The caller holds f.mu.
func (f *fsm) closeWatcher(w *watcher, err error) {
	if w.closed {
		return
	}
	w.closed = true
	delete(f.watchers, w)
	if err != nil && len(w.ch) < cap(w.ch) {
		w.ch <- Event{Type: EventError, Index: f.applied.Load(), Err: err}
	}
	close(w.ch)
	close(w.stop)
}

// Watch subscribes to changes of names starting with prefix ("" for all).
// With fromIndex 0 it delivers changes from now on. With fromIndex > 0 it
// first replays the retained changes with Index >= fromIndex, then live
// ones, without gap: to resume after a dropped watch, pass the Index of the
// last event you processed (that index's events are replayed again) or one
// more. It fails with ErrCompacted when events at or after fromIndex were
// evicted from the ring (the last 4096 changes are kept): re-List, then
// watch from the List's ReadInfo.Index+1.
//
// The channel closes when ctx ends, the table shuts down, a snapshot from
// the leader replaces the replica (ErrCompacted), or the watcher falls 1024
// events behind (ErrWatcherTooSlow); in the last three cases its final
// event has Type EventError and Err set. Apply never blocks on a watcher.
func (t *Table) Watch(ctx context.Context, prefix string, fromIndex uint64) (<-chan Event, error) {
	return t.fsm.watch(ctx, prefix, fromIndex, func(fn func()) {
		t.fsm.wg.Add(1)
		go func() {
			defer t.fsm.wg.Done()
			fn()
		}()
	})
}

// closeAllWatchers ends every watcher with err. The caller holds f.mu.
func (f *fsm) closeAllWatchers(err error) {
	for w := range f.watchers {
		f.closeWatcher(w, err)
	}
}

// watch subscribes to names starting with prefix. With fromIndex > 0 it
// first replays retained events with Index >= fromIndex; it fails with
// ErrCompacted when events at or after fromIndex may have been evicted.
// goFn starts the goroutine that ends the watch when ctx is done.
func (f *fsm) watch(ctx context.Context, prefix string, fromIndex uint64, goFn func(func())) (<-chan Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrShutdown
	}
	if fromIndex > 0 && fromIndex <= f.ring.compacted {
		return nil, fmt.Errorf("%w: from %d, retained events start after %d", ErrCompacted, fromIndex, f.ring.compacted)
	}
	var replay []Event
	if fromIndex > 0 {
		f.ring.each(func(e Event) {
			if e.Index >= fromIndex && strings.HasPrefix(e.Name, prefix) {
				replay = append(replay, e)
			}
		})
	}
	w := &watcher{prefix: prefix, ch: make(chan Event, len(replay)+watchBuffer+1), stop: make(chan struct{})}
	for _, e := range replay {
		w.ch <- e
	}
	f.watchers[w] = struct{}{}
	goFn(func() {
		select {
		case <-ctx.Done():
			f.mu.Lock()
			f.closeWatcher(w, nil)
			f.mu.Unlock()
		case <-w.stop:
		}
	})
	return w.ch, nil
}
