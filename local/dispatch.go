package local

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// DispatchOption tunes Dispatch. The zero value changes nothing. (A plain
// value rather than a func, so passing options allocates nothing.)
type DispatchOption struct {
	parallel bool
}

// Parallel makes Dispatch call fn for the partitions concurrently, one
// goroutine each, and wait for all of them (Elixir's parallel: true). It only
// matters for DuplicateByPID registries with more than one partition; in the
// others a key lives in one partition.
func Parallel() DispatchOption {
	return DispatchOption{parallel: true}
}

// Dispatch calls fn with the entries under key, once per partition that
// holds any (so once in Unique and DuplicateByKey registries), and not at
// all if there are none. fn runs outside the registry's locks, on a
// snapshot: it may call the registry, and entries registered or removed
// meanwhile may be missed or still be seen. The slice is reused after fn
// returns: fn must not keep it. Dispatch returns once every fn call has.
// A panicking fn panics Dispatch on the caller's goroutine, with Parallel
// too: each partition's goroutine recovers, and after all of them finished
// the first panic value is raised again in the caller (so a recover there
// catches it and the program survives, as in Elixir, where only the caller
// fails).
func (r *Registry[P]) Dispatch(key string, fn func([]Entry[P]), opts ...DispatchOption) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("local: dispatch %q: %w", key, ErrNilFunc)
	}
	parallel := false
	for _, opt := range opts {
		parallel = parallel || opt.parallel
	}
	parts := r.keyParts(key)
	if !parallel || len(parts) == 1 {
		for _, p := range parts {
			r.dispatchPart(p, key, fn)
		}
		return nil
	}
	var wg sync.WaitGroup
	var panicked atomic.Pointer[dispatchPanic]
	for _, p := range parts {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					panicked.CompareAndSwap(nil, &dispatchPanic{value: v})
				}
			}()
			r.dispatchPart(p, key, fn)
		})
	}
	wg.Wait()
	if pv := panicked.Load(); pv != nil {
		panic(pv.value) // re-raised on the caller's goroutine, where recover can catch it
	}
	return nil
}

// dispatchPanic carries the first panic of a parallel Dispatch's
// partition goroutines back to the caller.
type dispatchPanic struct{ value any }

// dispatchPart copies key's entries of p into a pooled buffer and, if there
// are any, hands them to fn.
func (r *Registry[P]) dispatchPart(p *partition[P], key string, fn func([]Entry[P])) {
	bufp, _ := r.dispatchBufs.Get().(*[]Entry[P])
	if bufp == nil {
		bufp = new([]Entry[P])
	}
	buf := (*bufp)[:0]
	p.mu.RLock()
	if p.ri != nil {
		if e := p.uniqueEntry(key); e != nil {
			buf = append(buf, Entry[P]{Key: key, PID: e.pid, Value: e.value})
		}
	} else if b := p.dup[key]; b != nil {
		buf = append(slices.Grow(buf, len(b.vals)), b.vals...)
	}
	p.mu.RUnlock()
	if len(buf) > 0 {
		fn(buf)
	}
	clear(buf) // drop references to values
	*bufp = buf[:0]
	r.dispatchBufs.Put(bufp)
}
