package local

import "fmt"

// Register adds an entry for key owned by pid, with value. pid need not be
// the caller: registering on behalf of another live process is allowed.
//
// With Owners set, pid must be live (else an error wrapping ErrNoProc) and
// the entry goes when pid exits. In a Unique registry a taken key yields an
// *AlreadyRegisteredError (errors.Is ErrAlreadyRegistered) naming the owner,
// which may be pid itself. A key whose owner has already exited (the
// runtime implements ExitedOwners and says so) counts as free even while
// that owner's exit cleanup is still running: its entries are removed then
// and there, and the registration succeeds. Duplicate registries accept any number of
// entries, including several of one pid under one key.
func (r *Registry[P]) Register(key string, pid P, value any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var st *pidState
	if r.tracker != nil {
		var err error
		if st, err = r.tracker.acquire(pid); err != nil {
			return fmt.Errorf("local: register %q for %v: %w", key, pid, err)
		}
	}
	p := r.entryPart(key, pid)
	for {
		p.mu.Lock()
		if st.isDead() {
			p.mu.Unlock() // exit cleanup owns st; no release
			return fmt.Errorf("local: register %q for %v: %w", key, pid, ErrNoProc)
		}
		if p.ri == nil {
			break
		}
		old := p.uniqueEntry(key)
		if old == nil {
			break
		}
		owner := old.pid
		p.mu.Unlock()
		if owner != pid && r.cleanExited(owner) {
			continue // the dead owner's entries are gone now; try again
		}
		r.release(pid, 1)
		return &AlreadyRegisteredError[P]{Key: key, Owner: owner}
	}
	e := p.newEntry(key, pid, value)
	p.insert(e)
	if len(r.listeners) == 0 {
		p.mu.Unlock()
		return nil
	}
	r.unlockEmit(p, []Event[P]{r.event(Registered, e, ReasonRegister, nil)})
	return nil
}

// cleanExited runs the exit cleanup of owner now if the Owners runtime
// says it has exited (its exit listeners, this registry among them, may
// still be running on the exiting goroutine), and reports whether it did.
// Register uses it so that a key held by an owner that is already dead is
// free, as in Elixir; the cleanup is idempotent, so the runtime's own later
// call removes nothing twice.
func (r *Registry[P]) cleanExited(owner P) bool {
	if r.tracker == nil {
		return false
	}
	eo, ok := r.tracker.owners.(ExitedOwners[P])
	if !ok {
		return false
	}
	reason, exited := eo.Exited(owner)
	if !exited {
		return false
	}
	r.OwnerExited(owner, reason)
	return true
}

// release gives back n owner references, if owners are tracked.
func (r *Registry[P]) release(pid P, n int) {
	if r.tracker != nil && n > 0 {
		r.tracker.release(pid, n)
	}
}

// Unregister removes every entry pid holds under key. It returns
// ErrNotFound if pid holds none, or ErrNotOwner if, in a Unique registry,
// another pid holds the key (which is left alone). Callers wanting
// Elixir's idempotent unregister ignore ErrNotFound.
func (r *Registry[P]) Unregister(key string, pid P) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := r.entryPart(key, pid)
	p.mu.Lock()
	head := p.removeChain(pid, key)
	if head == nil {
		var err error = fmt.Errorf("local: unregister %q for %v: %w", key, pid, ErrNotFound)
		if p.ri != nil && p.uniqueEntry(key) != nil {
			err = fmt.Errorf("local: unregister %q for %v: %w", key, pid, ErrNotOwner)
		}
		p.mu.Unlock()
		return err
	}
	n := r.unlockEmitChain(p, head, ReasonUnregister)
	r.release(pid, n)
	return nil
}

// UnregisterMatch removes pid's entries under key whose value satisfies
// pred, and returns how many it removed (0 is not an error). pred runs under
// the partition's write lock: it must be quick and must not call the
// registry.
func (r *Registry[P]) UnregisterMatch(key string, pid P, pred func(value any) bool) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if pred == nil {
		return 0, fmt.Errorf("local: unregister match %q: %w", key, ErrNilFunc)
	}
	p := r.entryPart(key, pid)
	removed, n := p.lockRemoveMatch(pid, key, pred)
	r.unlockEmitChain(p, removed, ReasonUnregisterMatch)
	r.release(pid, n)
	return n, nil
}

// lockRemoveMatch takes p's write lock and runs removeMatch. It returns
// with the lock held, unless pred panics: then it releases the lock (the
// table is untouched, see removeMatch) and lets the panic go on.
func (p *partition[P]) lockRemoveMatch(pid P, key string, pred func(any) bool) (*entry[P], int) {
	p.mu.Lock()
	ok := false
	defer func() {
		if !ok {
			p.mu.Unlock()
		}
	}()
	removed, n := p.removeMatch(pid, key, pred)
	ok = true
	return removed, n
}

// unlockEmitChain releases p's write lock and emits an Unregistered event
// for each entry of the removed chain. It returns the chain's length.
func (r *Registry[P]) unlockEmitChain(p *partition[P], head *entry[P], why Reason) int {
	n := 0
	var evs []Event[P]
	for e := head; e != nil; e = e.next {
		n++
		if len(r.listeners) > 0 {
			evs = append(evs, r.event(Unregistered, e, why, nil))
		}
	}
	r.unlockEmit(p, evs)
	return n
}

// UpdateValue replaces the value of pid's entry under key with fn(old) and
// returns the new and old values. Unique registries only (ErrNotUnique);
// ErrNotFound if the key is free, ErrNotOwner if another pid holds it. fn
// runs under the partition's write lock: it must be quick and must not call
// the registry. No event is emitted (as in Elixir).
func (r *Registry[P]) UpdateValue(key string, pid P, fn func(old any) any) (newV, oldV any, err error) {
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	if fn == nil {
		return nil, nil, fmt.Errorf("local: update value %q: %w", key, ErrNilFunc)
	}
	if r.kind != Unique {
		return nil, nil, fmt.Errorf("local: update value %q: %w", key, ErrNotUnique)
	}
	p := r.keyPart(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.uniqueEntry(key)
	switch {
	case e == nil:
		return nil, nil, fmt.Errorf("local: update value %q for %v: %w", key, pid, ErrNotFound)
	case e.pid != pid:
		return nil, nil, fmt.Errorf("local: update value %q for %v: %w", key, pid, ErrNotOwner)
	}
	oldV = e.value
	e.value = fn(oldV)
	p.republish(e)
	return e.value, oldV, nil
}

// OwnerExited removes every entry of pid and tells the listeners, with
// reason, passed through untouched. Owners calls it once when pid exits;
// calling it by hand (e.g. without Owners) removes pid's entries the same
// way. Registrations for pid racing with it either land before and are
// removed, or fail with ErrNoProc.
func (r *Registry[P]) OwnerExited(pid P, reason error) {
	if r.tracker != nil && !r.tracker.markDead(pid) {
		return // not tracked: holds no entries
	}
	for _, p := range r.pidParts(pid) {
		p.mu.Lock()
		if len(r.listeners) == 0 {
			p.removePID(pid, nil)
			p.mu.Unlock()
			continue
		}
		var evs []Event[P]
		p.removePID(pid, func(e *entry[P]) {
			evs = append(evs, r.event(Unregistered, e, ReasonProcessExit, reason))
		})
		r.unlockEmit(p, evs)
	}
	if r.tracker != nil {
		r.tracker.forget(pid)
	}
}
