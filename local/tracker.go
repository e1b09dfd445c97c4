package local

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// phase is where a tracked pid stands with the Owners runtime.
type phase uint8

const (
	attaching phase = iota // Attach is running; waiters wake when it returns
	attached               // Attach succeeded; OwnerExited may come
	detaching              // Detach is running; waiters wake when it returns
)

// pidState is the registry's view of one owner pid. refs and phase are
// guarded by the tracker shard's mutex; dead is atomic so Register can read
// it under a partition lock.
type pidState struct {
	refs  int           // entries of this pid plus in-flight registrations
	phase phase         // see phase
	waitc chan struct{} // made by the first waiter; closed when attaching or detaching ends
	dead  atomic.Bool   // OwnerExited was called; no new entries accepted
}

type trackerShard[P comparable] struct {
	mu   sync.Mutex
	pids map[P]*pidState
	peak int      // most pids since pids was last rebuilt
	_    [32]byte // keep neighbouring shards' mutexes off one cache line
}

// add tracks a new pid. mu must be held.
func (sh *trackerShard[P]) add(pid P, st *pidState) {
	sh.pids[pid] = st
	sh.peak = max(sh.peak, len(sh.pids))
}

// remove forgets pid if st is still its state, and rebuilds the map once
// it holds under 1/8 of its high-water mark (see partition.compact). mu
// must be held.
func (sh *trackerShard[P]) remove(pid P, st *pidState) {
	if sh.pids[pid] != st {
		return
	}
	delete(sh.pids, pid)
	if sh.peak >= compactMin && len(sh.pids)*8 < sh.peak {
		sh.pids = clone(sh.pids)
		sh.peak = len(sh.pids)
	}
}

// tracker attaches the registry to each owner pid while it holds entries.
// It is sharded by pid hash so registrations of different pids rarely meet.
//
// Invariant: a pid is in the map from the start of its first Attach until
// its Detach returns or its exit is cleaned up, so Attach and Detach for one
// pid never overlap.
type tracker[P comparable] struct {
	owners Owners[P]
	self   ExitListener[P]
	seed   maphash.Seed
	shards []trackerShard[P]
}

func newTracker[P comparable](o Owners[P], self ExitListener[P], n int) *tracker[P] {
	size := 1
	for size < n {
		size <<= 1
	}
	t := &tracker[P]{owners: o, self: self, seed: maphash.MakeSeed(), shards: make([]trackerShard[P], size)}
	for i := range t.shards {
		t.shards[i].pids = make(map[P]*pidState)
	}
	return t
}

func (t *tracker[P]) shard(pid P) *trackerShard[P] {
	if len(t.shards) == 1 {
		return &t.shards[0]
	}
	return &t.shards[maphash.Comparable(t.seed, pid)&uint64(len(t.shards)-1)]
}

// acquire reserves one reference on pid, attaching it first if it has no
// entries yet. The caller must either turn the reference into an entry or
// give it back with release. The returned state's dead flag must be checked
// under the partition lock before inserting.
func (t *tracker[P]) acquire(pid P) (*pidState, error) {
	sh := t.shard(pid)
	for {
		sh.mu.Lock()
		st := sh.pids[pid]
		switch {
		case st == nil:
			st = &pidState{refs: 1, phase: attaching}
			sh.add(pid, st)
			sh.mu.Unlock()
			return st, t.attach(sh, pid, st)
		case st.phase == attached && st.dead.Load():
			sh.mu.Unlock()
			return nil, ErrNoProc
		case st.phase == attached:
			st.refs++
			sh.mu.Unlock()
			return st, nil
		default: // attaching or detaching: wait for it to settle, retry
			if st.waitc == nil {
				st.waitc = make(chan struct{})
			}
			waitc := st.waitc
			sh.mu.Unlock()
			<-waitc
		}
	}
}

// attach runs Owners.Attach for a new state holding one reservation.
func (t *tracker[P]) attach(sh *trackerShard[P], pid P, st *pidState) error {
	err := t.owners.Attach(pid, t.self)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	defer st.wake()
	if err != nil || st.dead.Load() {
		sh.remove(pid, st)
		if err == nil {
			return ErrNoProc // exited during Attach; OwnerExited already ran
		}
		if errors.Is(err, ErrNoProc) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	st.phase = attached
	return nil
}

// release gives back n references on pid (entries removed, or a
// reservation not used) and detaches pid when none are left. References
// of a dead or unsettled pid are ignored: exit cleanup owns that state.
func (t *tracker[P]) release(pid P, n int) {
	sh := t.shard(pid)
	sh.mu.Lock()
	st := sh.pids[pid]
	if st == nil || st.phase != attached || st.dead.Load() {
		sh.mu.Unlock()
		return
	}
	st.refs -= n
	if st.refs > 0 {
		sh.mu.Unlock()
		return
	}
	st.phase = detaching
	sh.mu.Unlock()

	t.owners.Detach(pid, t.self)

	sh.mu.Lock()
	sh.remove(pid, st)
	st.wake()
	sh.mu.Unlock()
}

// wake releases the goroutines waiting for st to settle. The shard's mutex
// must be held.
func (st *pidState) wake() {
	if st.waitc != nil {
		close(st.waitc)
		st.waitc = nil
	}
}

// markDead flags pid as exited so no new entry is accepted. It reports
// whether pid was tracked (if not, it holds no entries).
func (t *tracker[P]) markDead(pid P) bool {
	sh := t.shard(pid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.pids[pid]
	if st == nil {
		return false
	}
	st.dead.Store(true)
	return true
}

// forget drops pid's state after its exit was cleaned up. A state still
// attaching or detaching is left to the goroutine doing that, which drops
// it when it sees dead.
func (t *tracker[P]) forget(pid P) {
	sh := t.shard(pid)
	sh.mu.Lock()
	if st := sh.pids[pid]; st != nil && st.phase == attached && st.dead.Load() {
		sh.remove(pid, st)
	}
	sh.mu.Unlock()
}

// isDead reports whether pid was marked dead (for Register's check under the
// partition lock).
func (st *pidState) isDead() bool { return st != nil && st.dead.Load() }

// tracked counts tracked pids (tests use it to check nothing leaks).
func (t *tracker[P]) tracked() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.pids)
		sh.mu.Unlock()
	}
	return n
}
