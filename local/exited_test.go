package local_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/roster-dev/roster/local"
)

// heldExitRuntime is procRuntime plus local.ExitedOwners, with an exit that
// can be held between "the process is dead" and "its listeners were told",
// the window in which node's exit listeners run one registry at a time.
type heldExitRuntime struct {
	*procRuntime
	mu    sync.Mutex
	dying map[pid]error
}

var _ local.ExitedOwners[pid] = (*heldExitRuntime)(nil)

func (rt *heldExitRuntime) Exited(p pid) (error, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	reason, ok := rt.dying[p]
	return reason, ok
}

// beginExit marks p dead and returns the function that tells its listeners.
func (rt *heldExitRuntime) beginExit(p pid, reason error) (finish func()) {
	rt.mu.Lock()
	rt.dying[p] = reason
	rt.mu.Unlock()
	rt.procRuntime.mu.Lock()
	ls := rt.live[p]
	delete(rt.live, p)
	rt.procRuntime.mu.Unlock()
	return func() {
		for l := range ls {
			l.OwnerExited(p, reason)
		}
	}
}

// TestRegisterOverExitedOwner: a unique key whose owner is dead but whose
// exit cleanup has not reached this registry yet is free (Elixir's "has
// unique registrations even if partition is delayed"); the late cleanup
// leaves the new entry alone, and listeners hear the old entry go once.
func TestRegisterOverExitedOwner(t *testing.T) {
	rt := &heldExitRuntime{procRuntime: newRuntime(), dying: make(map[pid]error)}
	var mu sync.Mutex
	var evs []local.Event[pid]
	r := newReg(t, local.Config[pid]{Partitions: 4, Owners: rt, Listeners: []local.Listener[pid]{func(ev local.Event[pid]) {
		mu.Lock()
		evs = append(evs, ev)
		mu.Unlock()
	}}})
	old, claimer := rt.Spawn(), rt.Spawn()
	if err := r.Register("k", old, "old"); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("k", claimer, "new"); !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("live owner: got %v, want already registered", err)
	}
	boom := errors.New("boom")
	finish := rt.beginExit(old, boom)
	if err := r.Register("k", claimer, "new"); err != nil {
		t.Fatalf("register over an exited owner: %v", err)
	}
	finish()
	if got, v, ok := r.Whereis("k"); !ok || got != claimer || v != "new" {
		t.Fatalf("whereis after the late cleanup: %v %v %v", got, v, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	var gone int
	for _, ev := range evs {
		if ev.Type == local.Unregistered {
			gone++
			if ev.PID != old || ev.Reason != local.ReasonProcessExit || !errors.Is(ev.ExitReason, boom) {
				t.Fatalf("unregistered event %+v", ev)
			}
		}
	}
	if gone != 1 {
		t.Fatalf("%d unregistered events, want 1", gone)
	}
	if r.TrackedPIDs() != 1 {
		t.Fatalf("tracked %d, want 1 (the claimer)", r.TrackedPIDs())
	}
	checkInv(t, r)
}

// TestRegisterOverExitedOwnerWithoutExtension: a runtime that cannot say a
// pid exited keeps the old behaviour (the dead owner is named).
func TestRegisterOverExitedOwnerWithoutExtension(t *testing.T) {
	rt := newRuntime()
	r := newReg(t, local.Config[pid]{Owners: rt})
	old, claimer := rt.Spawn(), rt.Spawn()
	if err := r.Register("k", old, nil); err != nil {
		t.Fatal(err)
	}
	var are *local.AlreadyRegisteredError[pid]
	if err := r.Register("k", claimer, nil); !errors.As(err, &are) || are.Owner != old {
		t.Fatalf("got %v", err)
	}
}

// TestParallelDispatchPanic: a panic in fn under Parallel reaches the
// caller's goroutine, where recover catches it, instead of ending the
// program; the registry keeps working.
func TestParallelDispatchPanic(t *testing.T) {
	r := newReg(t, local.Config[pid]{Keys: local.DuplicateByPID, Partitions: 8})
	for i := range 64 {
		if err := r.Register("k", pid(i+1), nil); err != nil {
			t.Fatal(err)
		}
	}
	var got any
	func() {
		defer func() { got = recover() }()
		_ = r.Dispatch("k", func([]local.Entry[pid]) { panic("boom") }, local.Parallel())
	}()
	if got != "boom" {
		t.Fatalf("recovered %v, want boom", got)
	}
	n := 0
	if err := r.Dispatch("k", func(es []local.Entry[pid]) { n += len(es) }); err != nil || n != 64 {
		t.Fatalf("dispatch after panic: %d entries, %v", n, err)
	}
	checkInv(t, r)
}
