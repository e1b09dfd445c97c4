package node

import (
	"context"
	"sync"
	"time"
)

// procCtx is the context a process runs with: cancelled (context.Canceled)
// when the process exits or is killed. It is embedded in the Process, so a
// spawn allocates no context; its Done channel is made on first use. It
// implements AfterFunc, which the context package uses to propagate
// cancellation to contexts derived from it (WithTimeout, WithCancel)
// without a goroutine per derived context.
type procCtx struct {
	mu     sync.Mutex
	done   chan struct{} // made lazily; closed by cancel
	err    error
	afters map[*afterFunc]struct{}
}

type afterFunc struct{ f func() }

var _ context.Context = (*procCtx)(nil)

// closedCh is the Done channel of a context cancelled before anyone asked.
var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Deadline implements context.Context: a process has no deadline.
func (c *procCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (c *procCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedCh
		}
		c.done = make(chan struct{})
	}
	return c.done
}

// Err implements context.Context.
func (c *procCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements context.Context: a process context carries no values.
func (c *procCtx) Value(any) any { return nil }

// AfterFunc arranges for f to run on its own goroutine once c is
// cancelled (at once if it already is), like context.AfterFunc; stop
// cancels that and reports whether it did.
func (c *procCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	if c.afters == nil {
		c.afters = make(map[*afterFunc]struct{})
	}
	c.afters[a] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.afters[a]
		delete(c.afters, a)
		return ok
	}
}

// cancel cancels c once.
func (c *procCtx) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	} else {
		c.done = closedCh
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for a := range afters {
		go a.f()
	}
}
