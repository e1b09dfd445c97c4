package local_test

import (
	"fmt"
	"sync"

	"github.com/roster-dev/roster/local"
)

// pid is the process id of the fake runtime.
type pid int

// procRuntime is a tiny fake process runtime implementing local.Owners: it
// spawns pids, lets them exit with a reason, and tells the attached
// listeners. It calls listeners outside its lock, as node does.
type procRuntime struct {
	mu       sync.Mutex
	next     pid
	live     map[pid]map[local.ExitListener[pid]]bool
	attaches int
	detaches int
	// violations counts calls that break the Owners contract as the
	// registry promises to use it: Attach of an attached pair, Detach of a
	// pair not attached (on a live pid).
	violations int
	// onAttach, if set, runs at the start of Attach (tests use it to make a
	// process exit while the registry attaches).
	onAttach func(p pid)
	// onDetach, if set, runs at the start of Detach (tests use it to widen
	// race windows).
	onDetach func(p pid)
}

var _ local.Owners[pid] = (*procRuntime)(nil)

func newRuntime() *procRuntime {
	return &procRuntime{live: make(map[pid]map[local.ExitListener[pid]]bool)}
}

// Spawn starts a process and returns its pid.
func (rt *procRuntime) Spawn() pid {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.next++
	rt.live[rt.next] = make(map[local.ExitListener[pid]]bool)
	return rt.next
}

// Attach implements local.Owners.
func (rt *procRuntime) Attach(p pid, l local.ExitListener[pid]) error {
	if rt.onAttach != nil {
		rt.onAttach(p)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ls, ok := rt.live[p]
	if !ok {
		return fmt.Errorf("runtime: pid %d: %w", p, local.ErrNoProc)
	}
	if ls[l] {
		rt.violations++
		return fmt.Errorf("runtime: pid %d attached twice", p)
	}
	ls[l] = true
	rt.attaches++
	return nil
}

// Detach implements local.Owners.
func (rt *procRuntime) Detach(p pid, l local.ExitListener[pid]) {
	if rt.onDetach != nil {
		rt.onDetach(p)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ls, ok := rt.live[p]
	switch {
	case ok && ls[l]:
		delete(ls, l)
		rt.detaches++
	case ok:
		rt.violations++
	}
}

// Exit ends a process and tells its listeners why, returning once they
// have been told. It reports whether p was live; exiting a dead pid is a
// no-op (another goroutine's Exit may still be telling the listeners).
func (rt *procRuntime) Exit(p pid, reason error) bool {
	rt.mu.Lock()
	ls, ok := rt.live[p]
	delete(rt.live, p)
	rt.mu.Unlock()
	for l := range ls {
		l.OwnerExited(p, reason)
	}
	return ok
}

// Violations returns how many contract-breaking calls were seen.
func (rt *procRuntime) Violations() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.violations
}

// Attached returns how many (pid, listener) attachments are live.
func (rt *procRuntime) Attached() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n := 0
	for _, ls := range rt.live {
		n += len(ls)
	}
	return n
}

// forgetDead rebuilds the runtime's process table so the memory of exited
// processes is released (Go maps never shrink).
func (rt *procRuntime) forgetDead() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	live := make(map[pid]map[local.ExitListener[pid]]bool, len(rt.live))
	for p, ls := range rt.live {
		live[p] = ls
	}
	rt.live = live
}
