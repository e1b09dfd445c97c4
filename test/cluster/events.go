package cluster

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// seenEvent is a table event and the earliest history time any watcher
// received it (it was committed by then).
type seenEvent struct {
	global.Event
	At  int64
	Pos int // position among the events of its index
}

// cursor numbers the events of one watch by their position in an index.
type cursor struct {
	index uint64
	pos   int
}

func (c *cursor) next(ev global.Event) int {
	if ev.Index != c.index {
		c.index, c.pos = ev.Index, 0
	} else {
		c.pos++
	}
	return c.pos
}

// eventKey identifies an event: its raft index and its position among
// that index's events (one entry may carry a batch of commands, so one
// index may hold several events, even identical-looking ones). Every
// replica applies the same entries in the same way, and a watch replays
// whole indexes, so the position is the same for every watcher.
type eventKey struct {
	Index uint64
	Pos   int
}

// eventLog merges the event streams of every node's table. Each node slot
// keeps one chain of watches: a watch that ends (too slow, snapshot
// install, node killed) is resumed on the slot's current node from the last
// index it delivered, so a chain that never hits ErrCompacted saw every
// event from where it started.
type eventLog struct {
	h *History

	mu     sync.Mutex
	events map[eventKey]*seenEvent
	chains map[int]*chain
}

type chain struct {
	start  uint64 // first index asked for
	last   uint64 // highest index delivered
	broken bool   // a resume found the events compacted
}

func newEventLog(h *History) *eventLog {
	return &eventLog{h: h, events: map[eventKey]*seenEvent{}, chains: map[int]*chain{}}
}

// follow watches nd's table for slot until ctx ends or nd shuts down.
func (l *eventLog) follow(ctx context.Context, slot int, nd *cnode.Node) {
	for ctx.Err() == nil {
		l.mu.Lock()
		ch := l.chains[slot]
		if ch == nil {
			ch = &chain{start: 1}
			l.chains[slot] = ch
		}
		from := max(ch.start, ch.last)
		l.mu.Unlock()
		evs, err := nd.WatchGlobal(ctx, "", from)
		if errors.Is(err, global.ErrCompacted) {
			l.mu.Lock()
			ch.broken = true
			ch.start, ch.last = 0, 0
			l.mu.Unlock()
			from = 0
			evs, err = nd.WatchGlobal(ctx, "", 0)
		}
		if err != nil {
			return // shut down
		}
		if !l.drain(slot, evs) {
			return
		}
	}
}

// drain records events until the channel closes; it reports whether the
// watch should be resumed.
func (l *eventLog) drain(slot int, evs <-chan global.Event) bool {
	var cur cursor
	for ev := range evs {
		if ev.Type == global.EventError {
			return !errors.Is(ev.Err, global.ErrShutdown)
		}
		l.record(slot, ev, cur.next(ev))
	}
	return false
}

func (l *eventLog) record(slot int, ev global.Event, pos int) {
	at := l.h.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch := l.chains[slot]; ch != nil && ev.Index > ch.last {
		ch.last = ev.Index
	}
	k := eventKey{Index: ev.Index, Pos: pos}
	if s, ok := l.events[k]; !ok {
		l.events[k] = &seenEvent{Event: ev, At: at, Pos: pos}
	} else if at < s.At {
		s.At = at
	}
}

// catchUp replays every retained event from nd's replica (after the
// cluster converged). It reports whether the replay started at index 1
// (nothing compacted), which makes the log complete on its own.
func (l *eventLog) catchUp(ctx context.Context, nd *cnode.Node) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := nd.WatchGlobal(ctx, "", 1)
	if err != nil {
		return false
	}
	var cur cursor
	idle := time.NewTimer(500 * time.Millisecond)
	defer idle.Stop()
	for {
		select {
		case ev, ok := <-evs:
			if !ok || ev.Type == global.EventError {
				return false
			}
			l.record(-1, ev, cur.next(ev))
			idle.Reset(500 * time.Millisecond)
		case <-idle.C:
			return true // the replay is queued at once; idle means done
		case <-ctx.Done():
			return false
		}
	}
}

// complete reports whether some slot's chain saw every event from index 1.
func (l *eventLog) complete() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.chains {
		if !ch.broken && ch.start == 1 {
			return true
		}
	}
	return false
}

// sorted returns the events in raft index order.
func (l *eventLog) sorted() []seenEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]seenEvent, 0, len(l.events))
	for _, e := range l.events {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Pos < out[j].Pos
	})
	return out
}
