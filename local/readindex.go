package local

import "sync/atomic"

// readIndex is a Unique partition's key index. Writers use it under the
// partition lock like a map; readers may also use it with no lock, so
// Whereis scales across cores: a read is an atomic load of the table and of
// a few slots, and writes nothing shared (an RWMutex's reader count is a
// shared counter, and cores fighting over it made reads slower in parallel
// than on one core).
//
// It is an open-addressing hash table with linear probing. Slots hold
// pointers to immutable records; a deleted slot holds the tombstone. Only
// the partition's writer (holding partition.mu for writing) changes it; it
// rebuilds the table into a fresh one (growing, shrinking or dropping
// tombstones) and publishes it with one atomic store, so readers see either
// the old table or the new one, both valid. The table is kept at most 3/4
// full, counting tombstones, so a probe always meets an empty slot.
type readIndex[P comparable] struct {
	tab  atomic.Pointer[slotTable[P]]
	tomb *record[P] // marks a deleted slot
	used int        // slots not empty (live records and tombstones)
	live int        // live records
}

// record is one published entry. Never modified after publication. e is
// the entry it publishes, for writers (which hold the partition lock);
// lock-free readers use only the other fields.
type record[P comparable] struct {
	hash  uint64
	key   string
	pid   P
	value any
	e     *entry[P]
}

type slotTable[P comparable] struct {
	slots []atomic.Pointer[record[P]]
	mask  uint64
}

const minSlots = 8

func newReadIndex[P comparable]() *readIndex[P] {
	ri := &readIndex[P]{tomb: &record[P]{}}
	ri.tab.Store(newSlotTable[P](minSlots))
	return ri
}

func newSlotTable[P comparable](n int) *slotTable[P] {
	return &slotTable[P]{slots: make([]atomic.Pointer[record[P]], n), mask: uint64(n - 1)}
}

// get returns the record for key, or nil. Safe without any lock.
func (ri *readIndex[P]) get(key string, hash uint64) *record[P] {
	t := ri.tab.Load()
	for i := hash & t.mask; ; i = (i + 1) & t.mask {
		r := t.slots[i].Load()
		if r == nil {
			return nil
		}
		if r.hash == hash && r != ri.tomb && r.key == key {
			return r
		}
	}
}

// put publishes r, replacing the record of the same key if there is one.
// Writer only.
func (ri *readIndex[P]) put(r *record[P]) {
	t := ri.tab.Load()
	free := -1
	for i := r.hash & t.mask; ; i = (i + 1) & t.mask {
		cur := t.slots[i].Load()
		switch {
		case cur == nil:
			if free < 0 {
				free = int(i)
				ri.used++
			}
			t.slots[free].Store(r)
			ri.live++
			ri.maybeRebuild()
			return
		case cur == ri.tomb:
			if free < 0 {
				free = int(i)
			}
		case cur.hash == r.hash && cur.key == r.key:
			t.slots[i].Store(r)
			return
		}
	}
}

// del unpublishes r, found by identity (no key comparison, so no reads of
// other records). Writer only.
func (ri *readIndex[P]) del(r *record[P]) {
	if i, ok := ri.find(r); ok {
		ri.tab.Load().slots[i].Store(ri.tomb)
		ri.live--
		ri.maybeRebuild()
	}
}

// replace publishes r in place of old (same key). Writer only.
func (ri *readIndex[P]) replace(old, r *record[P]) {
	if i, ok := ri.find(old); ok {
		ri.tab.Load().slots[i].Store(r)
	}
}

// find returns the slot holding r. Writer only.
func (ri *readIndex[P]) find(r *record[P]) (uint64, bool) {
	t := ri.tab.Load()
	for i := r.hash & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case nil:
			return 0, false
		case r:
			return i, true
		}
	}
}

// each calls fn for every live record. Writer, or a reader holding the
// partition's read lock (which keeps writers out).
func (ri *readIndex[P]) each(fn func(*record[P])) {
	t := ri.tab.Load()
	for i := range t.slots {
		if r := t.slots[i].Load(); r != nil && r != ri.tomb {
			fn(r)
		}
	}
}

// maybeRebuild rebuilds the table when it is over 3/4 full (counting
// tombstones) or under 1/8 live: the table grows and shrinks with the
// registry, so memory follows the live entries, not their high-water mark.
func (ri *readIndex[P]) maybeRebuild() {
	n := len(ri.tab.Load().slots)
	if ri.used*4 <= n*3 && (ri.live*8 >= n || n == minSlots) {
		return
	}
	size := minSlots
	for size*3 < ri.live*6 { // live fills at most half the new table
		size <<= 1
	}
	old := ri.tab.Load()
	t := newSlotTable[P](size)
	for i := range old.slots {
		r := old.slots[i].Load()
		if r == nil || r == ri.tomb {
			continue
		}
		j := r.hash & t.mask
		for t.slots[j].Load() != nil {
			j = (j + 1) & t.mask
		}
		t.slots[j].Store(r)
	}
	ri.used = ri.live
	ri.tab.Store(t)
}
