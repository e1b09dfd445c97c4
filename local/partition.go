package local

import (
	"hash/maphash"
	"sync"
)

// entry is one registration. key, pid and idx change only under the
// partition's write lock; value too (UpdateValue).
type entry[P comparable] struct {
	key   string
	pid   P
	value any
	idx   int       // position in its bucket (duplicate registries)
	next  *entry[P] // next entry of the same (pid, key), newest first

	// pprev and pnext link all of pid's entries in the partition, so exit
	// cleanup and Keys walk them without a scan.
	pprev, pnext *entry[P]

	// rec is the entry as published to lock-free readers (Unique only).
	rec *record[P]
}

// uniqueAlloc allocates an entry of a Unique registry together with its
// first published record, in one allocation.
type uniqueAlloc[P comparable] struct {
	e   entry[P]
	pub record[P]
}

// newEntry returns a new entry for p, with its record if p is Unique.
func (p *partition[P]) newEntry(key string, pid P, value any) *entry[P] {
	if p.ri == nil {
		return &entry[P]{key: key, pid: pid, value: value}
	}
	ue := &uniqueAlloc[P]{
		e:   entry[P]{key: key, pid: pid, value: value},
		pub: record[P]{hash: maphash.String(p.seed, key), key: key, pid: pid, value: value},
	}
	ue.e.rec = &ue.pub
	ue.pub.e = &ue.e
	return &ue.e
}

// uniqueEntry returns the entry under key in a Unique partition, or nil.
// mu must be held.
func (p *partition[P]) uniqueEntry(key string) *entry[P] {
	if r := p.ri.get(key, maphash.String(p.seed, key)); r != nil {
		return r.e
	}
	return nil
}

// ownKey names the entries of one pid under one key.
type ownKey[P comparable] struct {
	pid P
	key string
}

// bucket holds the entries of one key in a duplicate registry, twice: vals
// is a compact copy that Lookup, Match and Dispatch read sequentially;
// ptrs[i] is the entry behind vals[i]. Removal swaps the last entry into
// the hole, so order is not preserved.
type bucket[P comparable] struct {
	vals []Entry[P]
	ptrs []*entry[P]
}

// partition is one shard of a registry. All fields but emitMu are guarded by
// mu (ri's readers excepted, see readIndex). Every entry is indexed by key
// (ri or dup), by (pid, key) (owned; in a Unique registry the key index
// serves) and in its pid's list (heads), so removal by (pid, key) and by pid
// costs O(entries removed), however many entries the pid or the table
// holds.
type partition[P comparable] struct {
	mu    sync.RWMutex
	dup   map[string]*bucket[P]   // duplicate kinds: key → its entries
	owned map[ownKey[P]]*entry[P] // duplicate kinds: (pid, key) → chain of its entries
	heads map[P]*entry[P]         // pid → first of its entries
	count int                     // entries in this partition
	peak  int                     // most entries since the maps were last rebuilt

	// ri is the key index of a Unique registry (nil otherwise), readable
	// without the lock by Whereis and Lookup; seed is the registry's key
	// hash seed.
	ri   *readIndex[P]
	seed maphash.Seed

	// emitMu orders listener calls: a writer takes it before releasing mu
	// and holds it while it calls the listeners.
	emitMu sync.Mutex
}

func newPartition[P comparable](kind Kind, seed maphash.Seed) *partition[P] {
	p := &partition[P]{heads: make(map[P]*entry[P]), seed: seed}
	if kind == Unique {
		p.ri = newReadIndex[P]()
	} else {
		p.dup = make(map[string]*bucket[P])
		p.owned = make(map[ownKey[P]]*entry[P])
	}
	return p
}

// insert adds e to every index. mu must be held for writing.
func (p *partition[P]) insert(e *entry[P]) {
	if p.ri != nil {
		p.ri.put(e.rec)
	} else {
		b := p.dup[e.key]
		if b == nil {
			b = &bucket[P]{}
			p.dup[e.key] = b
		}
		e.idx = len(b.ptrs)
		b.ptrs = append(b.ptrs, e)
		b.vals = append(b.vals, Entry[P]{Key: e.key, PID: e.pid, Value: e.value})
		ok := ownKey[P]{e.pid, e.key}
		e.next = p.owned[ok]
		p.owned[ok] = e
	}
	if h := p.heads[e.pid]; h != nil {
		h.pprev = e
		e.pnext = h
	}
	p.heads[e.pid] = e
	p.count++
	p.peak = max(p.peak, p.count)
}

// compactMin is the smallest high-water mark worth compacting after.
const compactMin = 1024

// compact rebuilds the maps once the partition holds under 1/8 of its
// high-water mark: Go maps never give memory back, so without this a burst
// of a million entries would pin its memory for good. The cost, O(entries
// left), is paid once per 7/8 of the peak removed, so O(1) per removal.
// mu must be held for writing.
func (p *partition[P]) compact() {
	if p.peak < compactMin || p.count*8 >= p.peak {
		return
	}
	p.peak = p.count
	p.heads = clone(p.heads)
	if p.ri != nil {
		return // the read index resizes itself
	}
	p.owned = clone(p.owned)
	dup := make(map[string]*bucket[P], len(p.dup))
	for k, b := range p.dup {
		b.vals = append([]Entry[P](nil), b.vals...)
		b.ptrs = append([]*entry[P](nil), b.ptrs...)
		dup[k] = b
	}
	p.dup = dup
}

// clone copies m into a map sized for its current length.
func clone[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// republish shows e's new value to lock-free readers of a Unique
// partition. Published records are immutable: it publishes a new one. mu
// must be held for writing.
func (p *partition[P]) republish(e *entry[P]) {
	r := &record[P]{hash: e.rec.hash, key: e.key, pid: e.pid, value: e.value, e: e}
	p.ri.replace(e.rec, r)
	e.rec = r
}

// unindex removes e from the key index and its pid's list, but not from
// owned. mu must be held for writing.
func (p *partition[P]) unindex(e *entry[P]) {
	if e.pprev != nil {
		e.pprev.pnext = e.pnext
	} else if e.pnext != nil {
		p.heads[e.pid] = e.pnext
	} else {
		delete(p.heads, e.pid)
	}
	if e.pnext != nil {
		e.pnext.pprev = e.pprev
	}
	e.pprev, e.pnext = nil, nil
	p.unindexKey(e)
}

// unindexKey removes e from the key index only. mu must be held for
// writing.
func (p *partition[P]) unindexKey(e *entry[P]) {
	p.count--
	if p.ri != nil {
		p.ri.del(e.rec)
		return
	}
	b := p.dup[e.key]
	last := len(b.ptrs) - 1
	if e.idx != last {
		moved := b.ptrs[last]
		moved.idx = e.idx
		b.ptrs[e.idx] = moved
		b.vals[e.idx] = b.vals[last]
	}
	b.ptrs[last] = nil
	b.vals[last] = Entry[P]{}
	b.ptrs, b.vals = b.ptrs[:last], b.vals[:last]
	if last == 0 {
		delete(p.dup, e.key)
	}
}

// chain returns the newest of pid's entries under key, or nil. mu must be
// held.
func (p *partition[P]) chain(pid P, key string) *entry[P] {
	if p.ri != nil {
		if e := p.uniqueEntry(key); e != nil && e.pid == pid {
			return e
		}
		return nil
	}
	return p.owned[ownKey[P]{pid, key}]
}

// setChain records head as pid's chain under key (nil: none). Unique
// registries keep no chains. mu must be held for writing.
func (p *partition[P]) setChain(pid P, key string, head *entry[P]) {
	if p.owned == nil {
		return
	}
	if head == nil {
		delete(p.owned, ownKey[P]{pid, key})
	} else {
		p.owned[ownKey[P]{pid, key}] = head
	}
}

// removeChain removes all of pid's entries under key and returns them as a
// chain (linked by next), or nil if there were none. mu must be held for
// writing.
func (p *partition[P]) removeChain(pid P, key string) *entry[P] {
	head := p.chain(pid, key)
	if head == nil {
		return nil
	}
	p.setChain(pid, key, nil)
	for e := head; e != nil; e = e.next {
		p.unindex(e)
	}
	p.compact()
	return head
}

// removeMatch removes pid's entries under key whose value satisfies pred.
// It returns the removed entries (linked by next) and how many there were.
// pred runs for every entry before anything changes, so a panicking pred
// leaves the table intact. mu must be held for writing.
func (p *partition[P]) removeMatch(pid P, key string, pred func(any) bool) (*entry[P], int) {
	head := p.chain(pid, key)
	var doomed []*entry[P] // in chain order
	for e := head; e != nil; e = e.next {
		if pred(e.value) {
			doomed = append(doomed, e)
		}
	}
	if len(doomed) == 0 {
		return nil, 0
	}
	var kept, removed *entry[P]
	for e := head; e != nil; {
		next := e.next
		if len(doomed) > 0 && e == doomed[0] {
			doomed = doomed[1:]
			p.unindex(e)
			e.next = removed
			removed = e
		} else {
			e.next = kept
			kept = e
		}
		e = next
	}
	p.setChain(pid, key, kept) // relinked (reversed), or nil
	p.compact()
	n := 0
	for e := removed; e != nil; e = e.next {
		n++
	}
	return removed, n
}

// removePID removes every entry of pid and calls fn (if non-nil) for each.
// It returns how many were removed. mu must be held for writing.
func (p *partition[P]) removePID(pid P, fn func(*entry[P])) int {
	head := p.heads[pid]
	if head == nil {
		return 0
	}
	delete(p.heads, pid) // the whole list goes: no unlinking one by one
	n := 0
	for e := head; e != nil; {
		next := e.pnext
		e.pprev, e.pnext = nil, nil
		if p.owned != nil {
			delete(p.owned, ownKey[P]{pid, e.key})
		}
		p.unindexKey(e)
		n++
		if fn != nil {
			fn(e)
		}
		e = next
	}
	p.compact()
	return n
}
