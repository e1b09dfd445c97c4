package local_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/roster-dev/roster/local"
)

func TestOwnerExitCleanup(t *testing.T) {
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			rt := newRuntime()
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 4, Owners: rt})
			var ps []pid
			for i := range 50 {
				p := rt.Spawn()
				ps = append(ps, p)
				for j := range 10 {
					if err := r.Register(fmt.Sprintf("k%d-%d", i, j), p, j); err != nil {
						t.Fatal(err)
					}
				}
			}
			if rt.Attached() != 50 || r.TrackedPIDs() != 50 {
				t.Fatalf("attached %d, tracked %d; want one attach per pid", rt.Attached(), r.TrackedPIDs())
			}
			for i, p := range ps[:25] {
				rt.Exit(p, fmt.Errorf("exit %d", i))
			}
			if r.Count() != 250 || r.TrackedPIDs() != 25 || r.IndexedPIDs() > 25*r.Partitions() {
				t.Fatalf("after 25 exits: count %d, tracked %d, indexed %d", r.Count(), r.TrackedPIDs(), r.IndexedPIDs())
			}
			for _, p := range ps[:25] {
				if ks := r.Keys(p); ks != nil {
					t.Fatalf("dead pid %d still holds %v", p, ks)
				}
			}
			// Unregistering every entry of the rest detaches them.
			for i, p := range ps[25:] {
				for j := range 10 {
					if err := r.Unregister(fmt.Sprintf("k%d-%d", i+25, j), p); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r.Count() != 0 || r.TrackedPIDs() != 0 || r.IndexedPIDs() != 0 || rt.Attached() != 0 {
				t.Fatalf("leak: count %d, tracked %d, indexed %d, attached %d",
					r.Count(), r.TrackedPIDs(), r.IndexedPIDs(), rt.Attached())
			}
			if rt.attaches != 50 || rt.detaches != 25 {
				t.Fatalf("attaches %d detaches %d, want 50 and 25", rt.attaches, rt.detaches)
			}
			checkInv(t, r)
		})
	}
}

func TestReattachAfterDetach(t *testing.T) {
	rt := newRuntime()
	p := rt.Spawn()
	r := newReg(t, local.Config[pid]{Owners: rt})
	for range 3 {
		if err := r.Register("k", p, nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Unregister("k", p); err != nil {
			t.Fatal(err)
		}
	}
	if rt.attaches != 3 || rt.detaches != 3 || rt.Attached() != 0 {
		t.Fatalf("attaches %d detaches %d live %d", rt.attaches, rt.detaches, rt.Attached())
	}
	// A failed register of a fresh pid must not leave it attached.
	q := rt.Spawn()
	if err := r.Register("k2", p, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("k2", q, nil); !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("Register = %v", err)
	}
	if rt.Attached() != 1 || r.TrackedPIDs() != 1 {
		t.Fatalf("attached %d tracked %d after failed register, want 1", rt.Attached(), r.TrackedPIDs())
	}
}

// TestExitDuringAttach makes the owner exit while the registry attaches to
// it: the registration must fail and leave nothing behind.
func TestExitDuringAttach(t *testing.T) {
	rt := newRuntime()
	r := newReg(t, local.Config[pid]{Owners: rt})
	victim := rt.Spawn()
	rt.onAttach = func(p pid) {
		if p == victim {
			rt.Exit(p, errBoom) // not yet attached: nobody hears it
		}
	}
	if err := r.Register("k", victim, nil); !errors.Is(err, local.ErrNoProc) {
		t.Fatalf("Register = %v, want ErrNoProc", err)
	}
	// Now the runtime reports the exit to the registry from inside Attach,
	// after attaching: the registration must fail too.
	victim2 := rt.Spawn()
	rt.onAttach = nil
	exitInside := &exitingRuntime{procRuntime: rt, victim: victim2}
	r2 := newReg(t, local.Config[pid]{Owners: exitInside})
	if err := r2.Register("k", victim2, nil); !errors.Is(err, local.ErrNoProc) {
		t.Fatalf("Register = %v, want ErrNoProc", err)
	}
	if r.Count()+r2.Count() != 0 || r.TrackedPIDs()+r2.TrackedPIDs() != 0 {
		t.Fatalf("leftovers: counts %d %d tracked %d %d", r.Count(), r2.Count(), r.TrackedPIDs(), r2.TrackedPIDs())
	}
}

// exitingRuntime attaches victim and then immediately makes it exit,
// calling OwnerExited before Attach returns.
type exitingRuntime struct {
	*procRuntime
	victim pid
}

func (x *exitingRuntime) Attach(p pid, l local.ExitListener[pid]) error {
	if err := x.procRuntime.Attach(p, l); err != nil {
		return err
	}
	if p == x.victim {
		x.Exit(p, errBoom)
	}
	return nil
}

// TestConcurrentChurn has many goroutines register, unregister, query and
// kill processes at once (run it with -race). At the end no dead pid holds
// an entry, nothing leaks, and the indexes agree.
func TestConcurrentChurn(t *testing.T) {
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			seed := uint64(rand.Int64())
			t.Logf("seed %d", seed)
			rt := newRuntime()
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 3, Owners: rt})
			procs := make([]pid, 40)
			for i := range procs {
				procs[i] = rt.Spawn()
			}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() { churn(t, r, rt, procs, rand.New(rand.NewPCG(seed, uint64(g)))) })
			}
			wg.Wait()
			checkInv(t, r)
			if v := rt.Violations(); v != 0 {
				t.Fatalf("seed %d: %d overlapping Attach/Detach calls", seed, v)
			}
			for _, p := range procs {
				rt.Exit(p, nil)
			}
			if r.Count() != 0 || r.TrackedPIDs() != 0 || r.IndexedPIDs() != 0 || rt.Attached() != 0 {
				t.Fatalf("seed %d: leak after all exits: count %d tracked %d indexed %d attached %d",
					seed, r.Count(), r.TrackedPIDs(), r.IndexedPIDs(), rt.Attached())
			}
		})
	}
}

func churn(t *testing.T, r *local.Registry[pid], rt *procRuntime, procs []pid, rng *rand.Rand) {
	for range 2000 {
		p := procs[rng.IntN(len(procs))]
		key := fmt.Sprintf("k%d", rng.IntN(30))
		switch op := rng.IntN(10); {
		case op < 4:
			err := r.Register(key, p, op)
			if err != nil && !errors.Is(err, local.ErrAlreadyRegistered) && !errors.Is(err, local.ErrNoProc) {
				t.Errorf("Register: %v", err)
			}
		case op < 7:
			err := r.Unregister(key, p)
			if err != nil && !errors.Is(err, local.ErrNotFound) && !errors.Is(err, local.ErrNotOwner) {
				t.Errorf("Unregister: %v", err)
			}
		case op < 8:
			_, _ = r.UnregisterMatch(key, p, isEven)
		case op < 9:
			r.Lookup(key)
			r.Keys(p)
			_ = r.Dispatch(key, func([]local.Entry[pid]) {}, local.Parallel())
		default:
			if rng.IntN(20) == 0 {
				// Once the exit that killed p returns, p holds nothing.
				if rt.Exit(p, errBoom) {
					if ks := r.Keys(p); ks != nil {
						t.Errorf("dead pid %d holds %v", p, ks)
					}
				}
			}
		}
	}
}

// TestAttachDetachNeverOverlap has goroutines register and unregister keys
// of one pid so that its first-entry Attach and last-entry Detach race: the
// runtime must never see an Attach of an attached pid or a Detach of a
// detached one, and every Register must succeed (the pid is live).
func TestAttachDetachNeverOverlap(t *testing.T) {
	rt := newRuntime()
	rt.onDetach = func(pid) { goruntime.Gosched() } // let an Attach try to slip in
	r := newReg(t, local.Config[pid]{Keys: local.DuplicateByKey, Partitions: 4, Owners: rt})
	p := rt.Spawn()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", g)
			for range 500 {
				if err := r.Register(key, p, nil); err != nil {
					t.Errorf("Register: %v", err)
					return
				}
				if err := r.Unregister(key, p); err != nil {
					t.Errorf("Unregister: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v := rt.Violations(); v != 0 {
		t.Fatalf("%d overlapping Attach/Detach calls", v)
	}
	if rt.Attached() != 0 || r.TrackedPIDs() != 0 || r.Count() != 0 {
		t.Fatalf("attached %d tracked %d count %d", rt.Attached(), r.TrackedPIDs(), r.Count())
	}
	if rt.attaches != rt.detaches || rt.attaches == 0 {
		t.Fatalf("attaches %d, detaches %d", rt.attaches, rt.detaches)
	}
}
