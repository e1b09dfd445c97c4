package local

import "fmt"

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
		n += len(p.owned)
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
	byKey := map[*entry[P]]bool{}
	if p.unique != nil {
		for k, e := range p.unique {
			if e.key != k {
				return fmt.Errorf("partition %d: key %q holds entry of %q", i, k, e.key)
			}
			byKey[e] = true
		}
	} else {
		for k, b := range p.dup {
			if len(b.entries) == 0 {
				return fmt.Errorf("partition %d: empty bucket %q", i, k)
			}
			for j, e := range b.entries {
				if e.key != k || e.idx != j {
					return fmt.Errorf("partition %d: bucket %q slot %d holds %q idx %d", i, k, j, e.key, e.idx)
				}
				byKey[e] = true
			}
		}
	}
	n := 0
	for pid, keys := range p.owned {
		if len(keys) == 0 {
			return fmt.Errorf("partition %d: empty key set for %v", i, pid)
		}
		for k, head := range keys {
			for e := head; e != nil; e = e.next {
				if e.pid != pid || e.key != k || !byKey[e] {
					return fmt.Errorf("partition %d: pid index entry %v/%q not in key index", i, pid, k)
				}
				if r.entryPart(e.key, e.pid) != p {
					return fmt.Errorf("partition %d: entry %v/%q in wrong partition", i, pid, k)
				}
				n++
			}
		}
	}
	if n != len(byKey) || n != p.count {
		return fmt.Errorf("partition %d: pid index %d, key index %d, count %d", i, n, len(byKey), p.count)
	}
	return nil
}
