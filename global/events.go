package global

import "github.com/roster-dev/roster/transport"

// EventType says what happened to a name.
type EventType uint8

// Event types. They are stored in snapshots: append only.
const (
	// EventRegistered: the name now points at Owner (register, re-register
	// or a metadata update; see Reason).
	EventRegistered EventType = 1
	// EventUnregistered: Owner lost the name (see Reason).
	EventUnregistered EventType = 2
	// EventError is the last event on a watch channel that the table closes
	// early: Err says why (ErrWatcherTooSlow, ErrCompacted after a snapshot
	// install, ErrShutdown). The watcher should re-list and watch again.
	EventError EventType = 3
)

// Event is one change to the table, as seen by watchers.
type Event struct {
	Type   EventType     `msgpack:"t"`
	Name   string        `msgpack:"n"`
	Owner  transport.PID `msgpack:"p"`
	Meta   []byte        `msgpack:"m,omitempty"`
	Fence  uint64        `msgpack:"f"`
	Index  uint64        `msgpack:"i"` // raft index of the change
	Reason Reason        `msgpack:"r"`
	Err    error         `msgpack:"-"` // EventError only
}

// eventRingSize is how many recent events every replica keeps for Watch
// resumption. It is part of the replicated state (snapshots carry the ring),
// so it is a constant, not configuration.
const eventRingSize = 4096

// eventRing is a fixed-size circular buffer of the most recent events.
type eventRing struct {
	buf   []Event
	start int // index in buf of the oldest event
	n     int
	// compacted is the highest raft index of an evicted event: a watch
	// from an index at or below it may miss events.
	compacted uint64
}

func (r *eventRing) add(e Event) {
	if r.buf == nil {
		r.buf = make([]Event, eventRingSize)
	}
	if r.n == len(r.buf) {
		old := r.buf[r.start]
		if old.Index > r.compacted {
			r.compacted = old.Index
		}
		r.buf[r.start] = e
		r.start = (r.start + 1) % len(r.buf)
		return
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
}

// each calls fn on every event, oldest first.
func (r *eventRing) each(fn func(Event)) {
	for i := 0; i < r.n; i++ {
		fn(r.buf[(r.start+i)%len(r.buf)])
	}
}
