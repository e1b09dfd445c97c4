package local_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/roster-dev/roster/local"
)

// allKinds runs f for each key kind with one and several partitions.
func allKinds(t *testing.T, f func(t *testing.T, r *local.Registry[pid])) {
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		for _, parts := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d", kind, parts), func(t *testing.T) {
				r := newReg(t, local.Config[pid]{Keys: kind, Partitions: parts})
				f(t, r)
				checkInv(t, r)
			})
		}
	}
}

func pids(es []local.Entry[pid]) []pid {
	var out []pid
	for _, e := range es {
		out = append(out, e.PID)
	}
	slices.Sort(out)
	return out
}

func isEven(v any) bool { return v.(int)%2 == 0 }

func TestDuplicateKeys(t *testing.T) {
	for _, kind := range []local.Kind{local.DuplicateByPID, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 4})
			// pid 1 registers "topic" twice; pids 2..5 once each.
			for i, p := range []pid{1, 1, 2, 3, 4, 5} {
				if err := r.Register("topic", p, i); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Register("other", 1, 99); err != nil {
				t.Fatal(err)
			}
			if got := pids(r.Lookup("topic")); !slices.Equal(got, []pid{1, 1, 2, 3, 4, 5}) {
				t.Fatalf("Lookup = %v", got)
			}
			keys := r.Keys(1)
			sort.Strings(keys)
			if !slices.Equal(keys, []string{"other", "topic", "topic"}) {
				t.Fatalf("Keys(1) = %v", keys)
			}
			vals := r.Values("topic", 1)
			if len(vals) != 2 || !slices.Contains(vals, any(0)) || !slices.Contains(vals, any(1)) {
				t.Fatalf("Values(topic, 1) = %v", vals)
			}
			if _, _, ok := r.Whereis("topic"); !ok {
				t.Fatal("Whereis found nothing on a duplicate key")
			}
			// Unregister drops both of pid 1's "topic" entries, not "other".
			if err := r.Unregister("topic", 1); err != nil {
				t.Fatal(err)
			}
			if got := pids(r.Lookup("topic")); !slices.Equal(got, []pid{2, 3, 4, 5}) {
				t.Fatalf("Lookup after Unregister = %v", got)
			}
			if r.Count() != 5 {
				t.Fatalf("Count = %d, want 5", r.Count())
			}
			checkInv(t, r)
		})
	}
}

func TestUnregisterMatch(t *testing.T) {
	r := newReg(t, local.Config[pid]{Keys: local.DuplicateByKey, Partitions: 2})
	for i := range 6 {
		if err := r.Register("k", 1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register("k", 2, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		key   string
		pid   pid
		pred  func(any) bool
		n     int
		want  error
		count int
	}{
		{"nil pred", "k", 1, nil, 0, local.ErrNilFunc, 7},
		{"empty key", "", 1, isEven, 0, local.ErrKeyEmpty, 7},
		{"even values of pid 1", "k", 1, isEven, 3, nil, 4},
		{"nothing left to match", "k", 1, isEven, 0, nil, 4},
		{"unknown key", "x", 1, isEven, 0, nil, 4},
		{"the rest", "k", 1, func(any) bool { return true }, 3, nil, 1},
	}
	for _, tt := range tests {
		n, err := r.UnregisterMatch(tt.key, tt.pid, tt.pred)
		if n != tt.n || !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || r.Count() != tt.count {
			t.Fatalf("%s: UnregisterMatch = %d, %v, count %d; want %d, %v, %d", tt.name, n, err, r.Count(), tt.n, tt.want, tt.count)
		}
		checkInv(t, r)
	}
	if got := pids(r.Lookup("k")); !slices.Equal(got, []pid{2}) {
		t.Fatalf("Lookup = %v, want pid 2's entry only", got)
	}
}

func TestQueries(t *testing.T) {
	allKinds(t, func(t *testing.T, r *local.Registry[pid]) {
		for i := range 20 {
			if err := r.Register(fmt.Sprintf("k%d", i), pid(i%4+1), i); err != nil {
				t.Fatal(err)
			}
		}
		if r.Count() != 20 {
			t.Fatalf("Count = %d", r.Count())
		}
		if es := r.Lookup("k3"); len(es) != 1 || es[0] != (local.Entry[pid]{Key: "k3", PID: 4, Value: 3}) {
			t.Fatalf("Lookup(k3) = %v", es)
		}
		if es := r.Lookup("missing"); es != nil {
			t.Fatalf("Lookup(missing) = %v", es)
		}
		if es := r.Lookup(""); es != nil {
			t.Fatalf("Lookup(\"\") = %v", es)
		}
		if p, v, ok := r.Whereis("k5"); !ok || p != 2 || v != 5 {
			t.Fatalf("Whereis(k5) = %v %v %v", p, v, ok)
		}
		if _, _, ok := r.Whereis("missing"); ok {
			t.Fatal("Whereis(missing) found something")
		}
		if es, err := r.Match("k4", isEven); err != nil || len(es) != 1 {
			t.Fatalf("Match(k4, even) = %v, %v", es, err)
		}
		if es, err := r.Match("k5", isEven); err != nil || len(es) != 0 {
			t.Fatalf("Match(k5, even) = %v, %v", es, err)
		}
		if n, err := r.CountMatch("k4", isEven); err != nil || n != 1 {
			t.Fatalf("CountMatch = %d, %v", n, err)
		}
		byPID2 := func(_ string, p pid, _ any) bool { return p == 2 }
		es, err := r.Select(byPID2)
		if err != nil || len(es) != 5 {
			t.Fatalf("Select(pid 2) = %v, %v", es, err)
		}
		for _, e := range es {
			if e.PID != 2 || e.Key != fmt.Sprintf("k%d", e.Value) {
				t.Fatalf("Select returned %v", e)
			}
		}
		if n, err := r.CountSelect(func(k string, _ pid, v any) bool { return strings.HasPrefix(k, "k1") && isEven(v) }); err != nil || n != 5 {
			t.Fatalf("CountSelect = %d, %v; want 5 (k10..k18 even)", n, err)
		}
		keys := r.Keys(1)
		sort.Strings(keys)
		if !slices.Equal(keys, []string{"k0", "k12", "k16", "k4", "k8"}) {
			t.Fatalf("Keys(1) = %v", keys)
		}
		if r.Keys(99) != nil {
			t.Fatal("Keys of an unknown pid is not nil")
		}
		if vs := r.Values("k8", 1); !slices.Equal(vs, []any{8}) {
			t.Fatalf("Values(k8, 1) = %v", vs)
		}
		if vs := r.Values("k8", 2); vs != nil {
			t.Fatalf("Values(k8, 2) = %v", vs)
		}
	})
}

func TestQueryBadInput(t *testing.T) {
	r := newReg(t, local.Config[pid]{})
	long := strings.Repeat("k", local.MaxKeyLen+1)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"Match nil", func() error { _, err := r.Match("k", nil); return err }, local.ErrNilFunc},
		{"Match empty", func() error { _, err := r.Match("", isEven); return err }, local.ErrKeyEmpty},
		{"Match long", func() error { _, err := r.Match(long, isEven); return err }, local.ErrKeyTooLong},
		{"CountMatch nil", func() error { _, err := r.CountMatch("k", nil); return err }, local.ErrNilFunc},
		{"CountMatch empty", func() error { _, err := r.CountMatch("", isEven); return err }, local.ErrKeyEmpty},
		{"Select nil", func() error { _, err := r.Select(nil); return err }, local.ErrNilFunc},
		{"CountSelect nil", func() error { _, err := r.CountSelect(nil); return err }, local.ErrNilFunc},
		{"Dispatch nil", func() error { return r.Dispatch("k", nil) }, local.ErrNilFunc},
		{"Dispatch empty", func() error { return r.Dispatch("", func([]local.Entry[pid]) {}) }, local.ErrKeyEmpty},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestWhereisAllocatesNothing pins the zero-allocation promise of the
// unique fast path, hit and miss.
func TestWhereisAllocatesNothing(t *testing.T) {
	r := newReg(t, local.Config[pid]{Partitions: 4})
	if err := r.Register("k", 1, "v"); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, _, ok := r.Whereis("k"); !ok {
			t.Fatal("not found")
		}
		if _, _, ok := r.Whereis("missing"); ok {
			t.Fatal("found")
		}
	}); n != 0 {
		t.Fatalf("Whereis allocates %v times per call", n)
	}
}
