package local

import (
	"context"
	"fmt"
)

// keyLock is one per-key lock: a one-slot channel (held while full) and the
// number of goroutines holding or waiting for it, so it can be dropped when
// unused. refs is guarded by Registry.locksMu.
type keyLock struct {
	ch   chan struct{}
	refs int
}

// Lock runs fn while holding the lock named lockKey, so fns locked under one
// key run one at a time (Elixir's Registry.lock/3). Lock keys are a space of
// their own, unrelated to entry keys. If ctx ends before the lock is taken,
// Lock returns ctx's error without running fn. The lock is released when fn
// returns or panics. fn may call the registry, but must not Lock the same
// key (it would wait for itself until ctx ends).
func (r *Registry[P]) Lock(ctx context.Context, lockKey string, fn func()) error {
	if err := checkKey(lockKey); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("local: lock %q: %w", lockKey, ErrNilFunc)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: lock %q: %w", lockKey, err)
	}
	r.locksMu.Lock()
	l := r.locks[lockKey]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		r.locks[lockKey] = l
	}
	l.refs++
	r.locksMu.Unlock()
	defer r.dropLock(lockKey, l)

	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("local: lock %q: %w", lockKey, ctx.Err())
	}
	defer func() { <-l.ch }()
	fn()
	return nil
}

// dropLock forgets l once nobody holds or waits for it.
func (r *Registry[P]) dropLock(lockKey string, l *keyLock) {
	r.locksMu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(r.locks, lockKey)
	}
	r.locksMu.Unlock()
}
