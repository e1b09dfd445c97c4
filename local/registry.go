package local

import (
	"hash/maphash"
	"sync"
)

// Registry is a node-scoped process registry with the semantics of Elixir's
// Registry. It is safe for concurrent use. Create one with New; the zero
// Registry is not usable. It starts no goroutines and needs no Close.
type Registry[P comparable] struct {
	name      string
	kind      Kind
	parts     []*partition[P]
	seed      maphash.Seed
	tracker   *tracker[P] // nil without Owners
	listeners []Listener[P]

	dispatchBufs sync.Pool // *[]Entry[P], scratch for Dispatch

	metaMu sync.RWMutex
	meta   map[string]any

	locksMu sync.Mutex
	locks   map[string]*keyLock
}

var _ ExitListener[int] = (*Registry[int])(nil)

// Entry is one registration as returned by queries.
type Entry[P comparable] struct {
	Key   string
	PID   P
	Value any
}

// New validates cfg and returns an empty registry. It copies cfg.
func New[P comparable](cfg Config[P]) (*Registry[P], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := cfg.Partitions
	if n == 0 {
		n = 1
	}
	r := &Registry[P]{
		name:      cfg.Name,
		kind:      cfg.Keys,
		parts:     make([]*partition[P], n),
		seed:      maphash.MakeSeed(),
		listeners: append([]Listener[P](nil), cfg.Listeners...),
		meta:      make(map[string]any),
		locks:     make(map[string]*keyLock),
	}
	for i := range r.parts {
		r.parts[i] = newPartition[P](cfg.Keys, r.seed)
	}
	if cfg.Owners != nil {
		r.tracker = newTracker(cfg.Owners, ExitListener[P](r), n)
	}
	return r, nil
}

// Name returns Config.Name.
func (r *Registry[P]) Name() string { return r.name }

// Kind returns Config.Keys.
func (r *Registry[P]) Kind() Kind { return r.kind }

// Partitions returns the number of partitions (Config.Partitions, or 1).
func (r *Registry[P]) Partitions() int { return len(r.parts) }

// keyIndex returns the index of the partition a key hashes to.
func (r *Registry[P]) keyIndex(key string) int {
	if len(r.parts) == 1 {
		return 0
	}
	return reduce(maphash.String(r.seed, key), len(r.parts))
}

// keyPart returns the partition a key hashes to.
func (r *Registry[P]) keyPart(key string) *partition[P] {
	return r.parts[r.keyIndex(key)]
}

// pidPart returns the partition a pid hashes to.
func (r *Registry[P]) pidPart(pid P) *partition[P] {
	if len(r.parts) == 1 {
		return r.parts[0]
	}
	return r.parts[reduce(maphash.Comparable(r.seed, pid), len(r.parts))]
}

// entryPart returns the partition that holds (or would hold) the entry of
// pid under key.
func (r *Registry[P]) entryPart(key string, pid P) *partition[P] {
	if r.kind == DuplicateByPID {
		return r.pidPart(pid)
	}
	return r.keyPart(key)
}

// keyParts returns the partitions that may hold entries under key: one,
// except for DuplicateByPID, where a key spans them all.
func (r *Registry[P]) keyParts(key string) []*partition[P] {
	if r.kind == DuplicateByPID || len(r.parts) == 1 {
		return r.parts
	}
	i := r.keyIndex(key)
	return r.parts[i : i+1]
}

// pidParts returns the partitions that may hold entries of pid.
func (r *Registry[P]) pidParts(pid P) []*partition[P] {
	if r.kind != DuplicateByPID || len(r.parts) == 1 {
		return r.parts
	}
	i := reduce(maphash.Comparable(r.seed, pid), len(r.parts))
	return r.parts[i : i+1]
}

// reduce maps a hash onto [0, n) without a division (Lemire's method).
func reduce(h uint64, n int) int {
	return int(((h >> 32) * uint64(n)) >> 32)
}

// unlockEmit releases p's write lock and then delivers evs to the
// listeners, in order with respect to every other change of p.
func (r *Registry[P]) unlockEmit(p *partition[P], evs []Event[P]) {
	if len(evs) == 0 || len(r.listeners) == 0 {
		p.mu.Unlock()
		return
	}
	p.emitMu.Lock()
	p.mu.Unlock()
	defer p.emitMu.Unlock()
	for i := range evs {
		for _, l := range r.listeners {
			l(evs[i])
		}
	}
}

// event builds the event for e.
func (r *Registry[P]) event(t EventType, e *entry[P], why Reason, reason error) Event[P] {
	return Event[P]{Registry: r.name, Type: t, Key: e.key, PID: e.pid, Value: e.value, Reason: why, ExitReason: reason}
}
