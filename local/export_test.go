package local

import (
	"fmt"
	"hash/maphash"
)

// Test hooks into the registry's internals, compiled only into tests.

// TrackedPIDs returns how many owner pids the registry is attached to (or
// attaching/detaching).
func (r *Registry[P]) TrackedPIDs() int {
	if r.tracker == nil {
		return 0
	}
	return r.tracker.tracked()
}

// IndexedPIDs returns how many pids have an entry in the per-pid index,
// summed over partitions.
func (r *Registry[P]) IndexedPIDs() int {
	n := 0
	for _, p := range r.parts {
		p.mu.RLock()
		n += len(p.heads)
		p.mu.RUnlock()
	}
	return n
}

// LockKeys returns how many per-key locks exist.
func (r *Registry[P]) LockKeys() int {
	r.locksMu.Lock()
	defer r.locksMu.Unlock()
	return len(r.locks)
}

// CheckInvariants verifies that the key index and the pid index of every
// partition agree, that counts match and that every entry is in the right
// partition.
func (r *Registry[P]) CheckInvariants() error {
	for i, p := range r.parts {
		p.mu.RLock()
		err := r.checkPartition(i, p)
		p.mu.RUnlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry[P]) checkPartition(i int, p *partition[P]) error {
	byKey, err := r.checkKeyIndex(p)
	if err != nil {
		return fmt.Errorf("partition %d: %w", i, err)
	}
	byOwner, err := r.checkOwnerIndex(p, byKey)
	if err != nil {
		return fmt.Errorf("partition %d: %w", i, err)
	}
	n := 0
	for pid, head := range p.heads {
		if head.pprev != nil {
			return fmt.Errorf("partition %d: head of %v has a predecessor", i, pid)
		}
		for e := head; e != nil; e = e.pnext {
			if e.pid != pid || !byOwner[e] || (e.pnext != nil && e.pnext.pprev != e) {
				return fmt.Errorf("partition %d: pid list of %v broken at %q", i, pid, e.key)
			}
			n++
		}
	}
	if n != len(byKey) || n != len(byOwner) || n != p.count {
		return fmt.Errorf("partition %d: pid lists %d, owned %d, key index %d, count %d", i, n, len(byOwner), len(byKey), p.count)
	}
	return nil
}

// checkKeyIndex checks the key index (and the published copy of a Unique
// one) and returns its entries.
func (r *Registry[P]) checkKeyIndex(p *partition[P]) (map[*entry[P]]bool, error) {
	byKey := map[*entry[P]]bool{}
	var err error
	if p.ri != nil {
		p.ri.each(func(rec *record[P]) {
			e := rec.e
			switch {
			case e == nil || e.rec != rec:
				err = fmt.Errorf("record %q: entry does not point back", rec.key)
			case e.key != rec.key || e.pid != rec.pid || e.value != rec.value || e.next != nil:
				err = fmt.Errorf("entry %v/%q not published as is, or chained", e.pid, e.key)
			case p.ri.get(e.key, maphash.String(p.seed, e.key)) != rec:
				err = fmt.Errorf("record %q not found by its key", rec.key)
			}
			byKey[e] = true
		})
		if err != nil {
			return nil, err
		}
		if p.ri.live != len(byKey) {
			return nil, fmt.Errorf("read index counts %d, holds %d", p.ri.live, len(byKey))
		}
	}
	for k, b := range p.dup {
		if len(b.ptrs) == 0 || len(b.ptrs) != len(b.vals) {
			return nil, fmt.Errorf("bucket %q has %d/%d entries", k, len(b.ptrs), len(b.vals))
		}
		for j, e := range b.ptrs {
			if e.key != k || e.idx != j || b.vals[j] != (Entry[P]{Key: k, PID: e.pid, Value: e.value}) {
				return nil, fmt.Errorf("bucket %q slot %d holds %q idx %d", k, j, e.key, e.idx)
			}
			byKey[e] = true
		}
	}
	for e := range byKey {
		if r.entryPart(e.key, e.pid) != p {
			return nil, fmt.Errorf("entry %v/%q in wrong partition", e.pid, e.key)
		}
	}
	return byKey, nil
}

// checkOwnerIndex checks the (pid, key) index against the key index and
// returns its entries.
func (r *Registry[P]) checkOwnerIndex(p *partition[P], byKey map[*entry[P]]bool) (map[*entry[P]]bool, error) {
	if p.ri != nil {
		return byKey, nil // the key index doubles as the (pid, key) index
	}
	byOwner := map[*entry[P]]bool{}
	for ok, head := range p.owned {
		for e := head; e != nil; e = e.next {
			if e.pid != ok.pid || e.key != ok.key || !byKey[e] {
				return nil, fmt.Errorf("owned entry %v/%q not in key index", ok.pid, ok.key)
			}
			byOwner[e] = true
		}
	}
	return byOwner, nil
}
