package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
)

// nameWatch follows one global name in this node's replica for the
// singleton and election loops: whether it is free, which registrations of
// it went (by fence), and why and when it was last removed. It follows the
// table's watch stream and, after a gap (compaction, a snapshot install),
// starts over from the replica.
type nameWatch struct {
	n      *Node
	name   string
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	notify   chan struct{} // closed and replaced on every change
	removed  []uint64      // fences of removed registrations (last maxRemoved)
	lastWhy  global.Reason // reason of the last removal
	lastGone time.Time     // when this node saw it
}

// maxRemoved bounds nameWatch.removed.
const maxRemoved = 64

func newNameWatch(n *Node, name string) *nameWatch {
	ctx, cancel := context.WithCancel(n.ctx)
	w := &nameWatch{n: n, name: name, cancel: cancel, done: make(chan struct{}), notify: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.follow(ctx)
	}()
	return w
}

func (w *nameWatch) close() {
	w.cancel()
	<-w.done
}

func (w *nameWatch) follow(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := w.n.table.Watch(ctx, w.name, 0)
		if err == nil {
			w.signal()
			for ev := range ch {
				if ev.Name == w.name || ev.Type == global.EventError {
					w.onEvent(ev)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *nameWatch) onEvent(ev global.Event) {
	w.mu.Lock()
	if ev.Type == global.EventUnregistered {
		w.removed = append(w.removed, ev.Fence)
		if len(w.removed) > maxRemoved {
			w.removed = w.removed[len(w.removed)-maxRemoved:]
		}
		w.lastWhy, w.lastGone = ev.Reason, time.Now()
	}
	w.mu.Unlock()
	w.signal()
}

func (w *nameWatch) signal() {
	w.mu.Lock()
	close(w.notify)
	w.notify = make(chan struct{})
	w.mu.Unlock()
}

// changed returns a channel closed at the next change.
func (w *nameWatch) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.notify
}

// free reports whether the replica has no registration of the name.
func (w *nameWatch) free() bool {
	_, _, ok := w.n.table.Resolve(w.name)
	return !ok
}

// lostFence reports whether the registration with fence was removed, or
// the name now holds another registration.
func (w *nameWatch) lostFence(fence uint64) bool {
	w.mu.Lock()
	gone := slices.Contains(w.removed, fence)
	w.mu.Unlock()
	if gone {
		return true
	}
	_, f, ok := w.n.table.Resolve(w.name)
	return ok && f != fence && f > fence
}

// waitFree waits until the name is free and, if an operator's unregister
// or another owner's re-register removed it (the old holder may not know
// yet), until leaseWait has passed since: by then the old holder's lease
// has stopped it. Purges need no wait here: the leader waited for the
// lease before purging (controller.leaseHeld), and a process exit means
// the holder has returned. False when ctx ended.
func (w *nameWatch) waitFree(ctx context.Context, leaseWait time.Duration) bool {
	for {
		next := w.changed()
		if w.free() {
			w.mu.Lock()
			why, at := w.lastWhy, w.lastGone
			w.mu.Unlock()
			wait := time.Duration(0)
			if why == global.ReasonUnregister || why == global.ReasonConflict {
				wait = leaseWait - time.Since(at)
			}
			if wait <= 0 {
				return true
			}
			next = nil // re-check after the wait
			select {
			case <-ctx.Done():
				return false
			case <-time.After(wait):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case <-next:
		case <-time.After(time.Second):
		}
	}
}
