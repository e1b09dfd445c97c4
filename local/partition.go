package local

import "sync"

// entry is one registration. key, pid and idx never change after insert;
// value changes only under the partition's write lock (UpdateValue).
type entry[P comparable] struct {
	key   string
	pid   P
	value any
	idx   int       // position in its bucket (duplicate registries)
	next  *entry[P] // next entry of the same (pid, key) (duplicate registries)
}

// bucket holds the entries of one key in a duplicate registry. Order is not
// preserved: removal swaps the last entry into the hole.
type bucket[P comparable] struct {
	entries []*entry[P]
}

// partition is one shard of a registry. All fields but emitMu are guarded by
// mu. Every entry is indexed twice: by key (unique or dup) and by owner
// (owned), so removal by (pid, key) and by pid cost O(entries removed).
type partition[P comparable] struct {
	mu     sync.RWMutex
	unique map[string]*entry[P]       // Unique: key → its entry
	dup    map[string]*bucket[P]      // duplicate kinds: key → its entries
	owned  map[P]map[string]*entry[P] // pid → key → chain of (pid, key) entries
	count  int                        // entries in this partition

	// emitMu orders listener calls: a writer takes it before releasing mu
	// and holds it while it calls the listeners.
	emitMu sync.Mutex
}

func newPartition[P comparable](kind Kind) *partition[P] {
	p := &partition[P]{owned: make(map[P]map[string]*entry[P])}
	if kind == Unique {
		p.unique = make(map[string]*entry[P])
	} else {
		p.dup = make(map[string]*bucket[P])
	}
	return p
}

// insert adds e to both indexes. mu must be held for writing.
func (p *partition[P]) insert(e *entry[P]) {
	if p.unique != nil {
		p.unique[e.key] = e
	} else {
		b := p.dup[e.key]
		if b == nil {
			b = &bucket[P]{}
			p.dup[e.key] = b
		}
		e.idx = len(b.entries)
		b.entries = append(b.entries, e)
	}
	keys := p.owned[e.pid]
	if keys == nil {
		keys = make(map[string]*entry[P], 1)
		p.owned[e.pid] = keys
	}
	e.next = keys[e.key]
	keys[e.key] = e
	p.count++
}

// unindexKey removes e from the key index only. mu must be held for writing.
func (p *partition[P]) unindexKey(e *entry[P]) {
	p.count--
	if p.unique != nil {
		delete(p.unique, e.key)
		return
	}
	b := p.dup[e.key]
	last := len(b.entries) - 1
	if e.idx != last {
		moved := b.entries[last]
		b.entries[e.idx] = moved
		moved.idx = e.idx
	}
	b.entries[last] = nil
	b.entries = b.entries[:last]
	if last == 0 {
		delete(p.dup, e.key)
	}
}

// chain returns the first of pid's entries under key, or nil. mu must be
// held.
func (p *partition[P]) chain(pid P, key string) *entry[P] {
	return p.owned[pid][key]
}

// setChain replaces pid's chain under key (nil deletes it, and pid's index
// once empty). mu must be held for writing.
func (p *partition[P]) setChain(pid P, key string, head *entry[P]) {
	keys := p.owned[pid]
	if head != nil {
		keys[key] = head
		return
	}
	delete(keys, key)
	if len(keys) == 0 {
		delete(p.owned, pid)
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
		p.unindexKey(e)
	}
	return head
}

// removeMatch removes pid's entries under key whose value satisfies pred.
// It returns the removed entries (linked by next) and how many there were.
// mu must be held for writing.
func (p *partition[P]) removeMatch(pid P, key string, pred func(any) bool) (*entry[P], int) {
	head := p.chain(pid, key)
	if head == nil {
		return nil, 0
	}
	var kept, removed *entry[P]
	n := 0
	for e := head; e != nil; {
		next := e.next
		if pred(e.value) {
			p.unindexKey(e)
			e.next = removed
			removed = e
			n++
		} else {
			e.next = kept
			kept = e
		}
		e = next
	}
	p.setChain(pid, key, kept) // the kept chain was relinked
	return removed, n
}

// removePID removes every entry of pid and calls fn (if non-nil) for each.
// It returns how many were removed. mu must be held for writing.
func (p *partition[P]) removePID(pid P, fn func(*entry[P])) int {
	keys, ok := p.owned[pid]
	if !ok {
		return 0
	}
	delete(p.owned, pid)
	n := 0
	for _, head := range keys {
		for e := head; e != nil; e = e.next {
			p.unindexKey(e)
			n++
			if fn != nil {
				fn(e)
			}
		}
	}
	return n
}
