package global

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
	"github.com/vmihailenco/msgpack/v5"
)

// Snapshot stream layout (msgpack values, one after another):
//
//	snapHeader
//	Names  x Registration   (sorted by name)
//	Purged x purgedEntry    (eviction order)
//	Dedup  x dedupEntry     (eviction order)
//	Events x Event          (oldest first)
//	snapTrailer
//
// The trailer lets Restore tell a truncated stream from a complete one.
const (
	snapMagic   = "roster.global.snapshot"
	snapVersion = 1
	snapEnd     = "roster.global.end"
)

type snapHeader struct {
	Magic     string `msgpack:"magic"`
	Version   int    `msgpack:"v"`
	Applied   uint64 `msgpack:"applied"`
	Compacted uint64 `msgpack:"compacted"`
	Names     int    `msgpack:"names"`
	Purged    int    `msgpack:"purged"`
	Dedup     int    `msgpack:"dedup"`
	Events    int    `msgpack:"events"`
}

type snapTrailer struct {
	Magic string `msgpack:"magic"`
}

type purgedEntry struct {
	Inc   incarnation `msgpack:"inc"`
	Index uint64      `msgpack:"i"`
}

type dedupEntry struct {
	ID     reqID  `msgpack:"id"`
	Result result `msgpack:"r"`
}

// fsmSnapshot is a point-in-time copy of the table, persisted off the FSM
// goroutine.
type fsmSnapshot struct {
	hdr    snapHeader
	names  []Registration
	purged []purgedEntry
	dedup  []dedupEntry
	events []Event
}

var _ raft.FSMSnapshot = (*fsmSnapshot)(nil)

// Snapshot implements raft.FSM. It copies the state (Meta slices are shared:
// the FSM never mutates them in place).
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &fsmSnapshot{
		names:  make([]Registration, 0, len(f.names)),
		purged: make([]purgedEntry, 0, f.purgedQ.len()),
		dedup:  make([]dedupEntry, 0, f.dedupQ.len()),
		events: make([]Event, 0, f.ring.n),
	}
	for _, r := range f.names {
		s.names = append(s.names, r)
	}
	f.purgedQ.each(func(i incarnation) { s.purged = append(s.purged, purgedEntry{i, f.purged[i]}) })
	f.dedupQ.each(func(id reqID) { s.dedup = append(s.dedup, dedupEntry{id, f.dedup[id]}) })
	f.ring.each(func(e Event) { s.events = append(s.events, e) })
	s.hdr = snapHeader{
		Magic: snapMagic, Version: snapVersion, Applied: f.applied.Load(), Compacted: f.ring.compacted,
		Names: len(s.names), Purged: len(s.purged), Dedup: len(s.dedup), Events: len(s.events),
	}
	return s, nil
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("global: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	slices.SortFunc(s.names, func(a, b Registration) int { return strings.Compare(a.Name, b.Name) })
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := msgpack.NewEncoder(bw)
	if err := enc.Encode(&s.hdr); err != nil {
		return err
	}
	for i := range s.names {
		if err := enc.Encode(&s.names[i]); err != nil {
			return err
		}
	}
	for i := range s.purged {
		if err := enc.Encode(&s.purged[i]); err != nil {
			return err
		}
	}
	for i := range s.dedup {
		if err := enc.Encode(&s.dedup[i]); err != nil {
			return err
		}
	}
	for i := range s.events {
		if err := enc.Encode(&s.events[i]); err != nil {
			return err
		}
	}
	if err := enc.Encode(&snapTrailer{Magic: snapEnd}); err != nil {
		return err
	}
	return bw.Flush()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it replaces the whole state with the
// snapshot's and rebuilds the derived indexes. On any decoding or validation
// error the current state is kept and ErrCorruptSnapshot is returned.
// Watchers are closed with ErrCompacted: they cannot know what they missed.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	next := newFSM(f.logger)
	if err := next.readSnapshot(rc); err != nil {
		err = fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
		f.mu.Lock()
		f.restoreErr = err
		f.mu.Unlock()
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names, f.order, f.byNode = next.names, next.order, next.byNode
	f.purged, f.purgedQ = next.purged, next.purgedQ
	f.dedup, f.dedupQ = next.dedup, next.dedupQ
	f.ring = next.ring
	f.applied.Store(next.applied.Load())
	f.closeAllWatchers(ErrCompacted)
	return nil
}

// takeRestoreErr returns and clears the last Restore failure.
func (f *fsm) takeRestoreErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.restoreErr
	f.restoreErr = nil
	return err
}
