package local_test

import (
	"testing"

	"github.com/roster-dev/roster/local"
)

// TestPanickingCallbacks checks that a user function that panics (a bug in
// the caller) neither leaves a lock held nor corrupts the table: after the
// panic, reads and writes still work and the indexes agree.
func TestPanickingCallbacks(t *testing.T) {
	boom := func(any) bool { panic("boom") }
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 2})
			for i := range 4 {
				if err := r.Register("k", pid(i+1), i); err != nil && kind != local.Unique {
					t.Fatal(err)
				}
			}
			calls := []struct {
				name string
				call func()
			}{
				{"Match", func() { _, _ = r.Match("k", boom) }},
				{"CountMatch", func() { _, _ = r.CountMatch("k", boom) }},
				{"Select", func() { _, _ = r.Select(func(string, pid, any) bool { panic("boom") }) }},
				{"CountSelect", func() { _, _ = r.CountSelect(func(string, pid, any) bool { panic("boom") }) }},
				{"UnregisterMatch", func() { _, _ = r.UnregisterMatch("k", 1, boom) }},
				{"UpdateValue", func() { _, _, _ = r.UpdateValue("k", 1, func(any) any { panic("boom") }) }},
				{"Dispatch", func() { _ = r.Dispatch("k", func([]local.Entry[pid]) { panic("boom") }) }},
			}
			for _, c := range calls {
				before := r.Count()
				if !panics(c.call) && c.name != "UpdateValue" { // UpdateValue refuses duplicate registries first
					t.Fatalf("%s: callback did not run", c.name)
				}
				if err := r.Register("after-"+c.name, 9, nil); err != nil {
					t.Fatalf("%s: registry unusable after panic: %v", c.name, err)
				}
				if r.Count() != before+1 {
					t.Fatalf("%s: count %d, want %d", c.name, r.Count(), before+1)
				}
				checkInv(t, r)
			}
		})
	}
}

func TestPanickingListener(t *testing.T) {
	fail := true
	r := newReg(t, local.Config[pid]{Listeners: []local.Listener[pid]{func(local.Event[pid]) {
		if fail {
			panic("boom")
		}
	}}})
	if !panics(func() { _ = r.Register("a", 1, nil) }) {
		t.Fatal("listener did not run")
	}
	fail = false
	if err := r.Register("b", 1, nil); err != nil {
		t.Fatal(err)
	}
	if r.Count() != 2 {
		t.Fatalf("count %d, want 2 (the change is made before listeners run)", r.Count())
	}
	checkInv(t, r)
}

func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}
