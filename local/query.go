package local

import (
	"fmt"
	"hash/maphash"
)

// Queries never block writers for longer than one partition scan and never
// call user functions with a lock held, except predicates, which run under
// the partition's read lock: a predicate must be quick and must not call the
// registry (a read lock is not reentrant once a writer waits).

// Whereis returns the owner and value of key: the fast path for Unique
// registries, allocation-free and lock-free (see readIndex). On duplicate registries it returns one
// entry under key, if any. An invalid key is simply not found.
func (r *Registry[P]) Whereis(key string) (pid P, value any, ok bool) {
	if r.kind == Unique {
		if rec := r.published(key); rec != nil {
			return rec.pid, rec.value, true
		}
		return pid, nil, false
	}
	for _, p := range r.keyParts(key) {
		p.mu.RLock()
		if b := p.dup[key]; b != nil {
			pid, value, ok = b.vals[0].PID, b.vals[0].Value, true
		}
		p.mu.RUnlock()
		if ok {
			break
		}
	}
	return pid, value, ok
}

// published returns the record of key in a Unique registry, without
// taking any lock.
func (r *Registry[P]) published(key string) *record[P] {
	h := maphash.String(r.seed, key)
	p := r.parts[0]
	if len(r.parts) > 1 {
		p = r.parts[reduce(h, len(r.parts))]
	}
	return p.ri.get(key, h)
}

// Lookup returns the entries under key (at most one in a Unique registry),
// in no particular order, or nil. An invalid key is simply not found.
func (r *Registry[P]) Lookup(key string) []Entry[P] {
	if r.kind == Unique {
		if rec := r.published(key); rec != nil {
			return []Entry[P]{{Key: key, PID: rec.pid, Value: rec.value}}
		}
		return nil
	}
	out, _ := r.match(key, nil)
	return out
}

// Match returns the entries under key whose value satisfies pred.
func (r *Registry[P]) Match(key string, pred func(value any) bool) ([]Entry[P], error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if pred == nil {
		return nil, fmt.Errorf("local: match %q: %w", key, ErrNilFunc)
	}
	return r.match(key, pred)
}

// match collects the entries under key accepted by pred (all if nil).
func (r *Registry[P]) match(key string, pred func(any) bool) ([]Entry[P], error) {
	var out []Entry[P]
	for _, p := range r.keyParts(key) {
		out = p.appendMatch(out, key, pred)
	}
	return out, nil
}

// appendMatch appends the entries of p under key accepted by pred (all if
// nil). The deferred unlock keeps a panicking pred from wedging p.
func (p *partition[P]) appendMatch(out []Entry[P], key string, pred func(any) bool) []Entry[P] {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.ri != nil {
		if e := p.uniqueEntry(key); e != nil && (pred == nil || pred(e.value)) {
			out = append(out, Entry[P]{Key: key, PID: e.pid, Value: e.value})
		}
		return out
	}
	b := p.dup[key]
	if b == nil {
		return out
	}
	if pred == nil {
		return append(out, b.vals...)
	}
	for _, e := range b.vals {
		if pred(e.Value) {
			out = append(out, e)
		}
	}
	return out
}

// CountMatch counts the entries under key whose value satisfies pred.
func (r *Registry[P]) CountMatch(key string, pred func(value any) bool) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if pred == nil {
		return 0, fmt.Errorf("local: count match %q: %w", key, ErrNilFunc)
	}
	n := 0
	for _, p := range r.keyParts(key) {
		n += p.countMatch(key, pred)
	}
	return n, nil
}

// countMatch counts the entries of p under key accepted by pred.
func (p *partition[P]) countMatch(key string, pred func(any) bool) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	if p.ri != nil {
		if e := p.uniqueEntry(key); e != nil && pred(e.value) {
			n++
		}
	} else if b := p.dup[key]; b != nil {
		for _, e := range b.vals {
			if pred(e.Value) {
				n++
			}
		}
	}
	return n
}

// Select returns every entry for which pred(key, pid, value) holds, in no
// particular order. It scans the whole registry, one partition at a time:
// the result is a consistent snapshot of each partition, not of the whole.
func (r *Registry[P]) Select(pred func(key string, pid P, value any) bool) ([]Entry[P], error) {
	if pred == nil {
		return nil, fmt.Errorf("local: select: %w", ErrNilFunc)
	}
	var out []Entry[P]
	r.scan(func(e *entry[P]) {
		if pred(e.key, e.pid, e.value) {
			out = append(out, Entry[P]{Key: e.key, PID: e.pid, Value: e.value})
		}
	})
	return out, nil
}

// CountSelect counts the entries for which pred(key, pid, value) holds.
func (r *Registry[P]) CountSelect(pred func(key string, pid P, value any) bool) (int, error) {
	if pred == nil {
		return 0, fmt.Errorf("local: count select: %w", ErrNilFunc)
	}
	n := 0
	r.scan(func(e *entry[P]) {
		if pred(e.key, e.pid, e.value) {
			n++
		}
	})
	return n, nil
}

// scan calls fn for every entry, under each partition's read lock in turn.
func (r *Registry[P]) scan(fn func(*entry[P])) {
	for _, p := range r.parts {
		p.scan(fn)
	}
}

// scan calls fn for every entry of p under p's read lock, released even if
// fn panics.
func (p *partition[P]) scan(fn func(*entry[P])) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.ri != nil {
		p.ri.each(func(r *record[P]) { fn(r.e) })
		return
	}
	for _, b := range p.dup {
		for _, e := range b.ptrs {
			fn(e)
		}
	}
}

// Count returns the number of entries.
func (r *Registry[P]) Count() int {
	n := 0
	for _, p := range r.parts {
		p.mu.RLock()
		n += p.count
		p.mu.RUnlock()
	}
	return n
}

// Keys returns the keys pid holds, once per entry (a pid holding a key
// twice in a duplicate registry gets it twice), in no particular order.
func (r *Registry[P]) Keys(pid P) []string {
	var out []string
	for _, p := range r.pidParts(pid) {
		p.mu.RLock()
		for e := p.heads[pid]; e != nil; e = e.pnext {
			out = append(out, e.key)
		}
		p.mu.RUnlock()
	}
	return out
}

// Values returns the values of pid's entries under key (at most one in a
// Unique registry), or nil.
func (r *Registry[P]) Values(key string, pid P) []any {
	p := r.entryPart(key, pid)
	var out []any
	p.mu.RLock()
	for e := p.chain(pid, key); e != nil; e = e.next {
		out = append(out, e.value)
	}
	p.mu.RUnlock()
	return out
}
