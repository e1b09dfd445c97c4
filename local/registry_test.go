package local_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/roster-dev/roster/local"
)

// newReg builds a registry or fails the test.
func newReg(t testing.TB, cfg local.Config[pid]) *local.Registry[pid] {
	t.Helper()
	r, err := local.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// checkInv fails the test if the registry's indexes disagree.
func checkInv(t testing.TB, r *local.Registry[pid]) {
	t.Helper()
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  local.Config[pid]
		want error
	}{
		{"zero value is a unique registry", local.Config[pid]{}, nil},
		{"default", local.DefaultConfig[pid](), nil},
		{"max partitions", local.Config[pid]{Partitions: local.MaxPartitions}, nil},
		{"negative partitions", local.Config[pid]{Partitions: -1}, local.ErrBadConfig},
		{"too many partitions", local.Config[pid]{Partitions: local.MaxPartitions + 1}, local.ErrBadConfig},
		{"unknown kind", local.Config[pid]{Keys: 9}, local.ErrBadConfig},
		{"long name", local.Config[pid]{Name: strings.Repeat("n", local.MaxKeyLen+1)}, local.ErrBadConfig},
		{"nil listener", local.Config[pid]{Listeners: []local.Listener[pid]{nil}}, local.ErrNilFunc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := local.New(tt.cfg)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("New: err %v, want %v", err, tt.want)
			}
			if err == nil && r.Partitions() < 1 {
				t.Fatalf("Partitions() = %d", r.Partitions())
			}
		})
	}
}

func TestNewCopiesConfig(t *testing.T) {
	heard := 0
	ls := []local.Listener[pid]{func(local.Event[pid]) { heard++ }}
	cfg := local.Config[pid]{Name: "a", Listeners: ls}
	r := newReg(t, cfg)
	ls[0] = func(local.Event[pid]) { t.Error("caller's slice change reached the registry") }
	cfg.Name = "b"
	if err := r.Register("k", 1, nil); err != nil {
		t.Fatal(err)
	}
	if heard != 1 || r.Name() != "a" {
		t.Fatalf("heard %d, name %q", heard, r.Name())
	}
}

func TestRegisterErrors(t *testing.T) {
	rt := newRuntime()
	alive, other, dead := rt.Spawn(), rt.Spawn(), rt.Spawn()
	rt.Exit(dead, nil)
	r := newReg(t, local.Config[pid]{Owners: rt, Partitions: 4})
	if err := r.Register("taken", other, "v"); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("mine", alive, "v"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		key   string
		pid   pid
		want  error
		owner pid
	}{
		{"empty key", "", alive, local.ErrKeyEmpty, 0},
		{"oversize key", strings.Repeat("k", local.MaxKeyLen+1), alive, local.ErrKeyTooLong, 0},
		{"key taken by another", "taken", alive, local.ErrAlreadyRegistered, other},
		{"double registration", "mine", alive, local.ErrAlreadyRegistered, alive},
		{"dead pid", "free", dead, local.ErrNoProc, 0},
		{"never spawned pid", "free", 999, local.ErrNoProc, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Register(tt.key, tt.pid, "x")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Register: %v, want %v", err, tt.want)
			}
			var are *local.AlreadyRegisteredError[pid]
			if errors.As(err, &are) != (tt.owner != 0) || (are != nil && (are.Owner != tt.owner || are.Key != tt.key)) {
				t.Fatalf("Register: %#v, want owner %d", err, tt.owner)
			}
		})
	}
	if r.Count() != 2 {
		t.Fatalf("Count = %d, want 2 (errors changed the table)", r.Count())
	}
	if got := rt.Attached(); got != 2 {
		t.Fatalf("runtime has %d attachments, want 2 (failed registrations must roll back)", got)
	}
	// The key at the limit is fine.
	if err := r.Register(strings.Repeat("k", local.MaxKeyLen), alive, nil); err != nil {
		t.Fatalf("Register at MaxKeyLen: %v", err)
	}
	checkInv(t, r)
}

func TestRegisterOnBehalfOfAnother(t *testing.T) {
	rt := newRuntime()
	worker := rt.Spawn()
	r := newReg(t, local.Config[pid]{Owners: rt})
	// Whoever calls, the entry belongs to worker and goes with it.
	if err := r.Register("w", worker, 1); err != nil {
		t.Fatal(err)
	}
	if p, v, ok := r.Whereis("w"); !ok || p != worker || v != 1 {
		t.Fatalf("Whereis = %v %v %v", p, v, ok)
	}
	rt.Exit(worker, nil)
	if _, _, ok := r.Whereis("w"); ok {
		t.Fatal("entry survived its owner")
	}
}

func TestUnregister(t *testing.T) {
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 3})
			if err := r.Register("k", 1, "a"); err != nil {
				t.Fatal(err)
			}
			notOwner := local.ErrNotFound
			if kind == local.Unique {
				notOwner = local.ErrNotOwner
			}
			tests := []struct {
				name string
				key  string
				pid  pid
				want error
			}{
				{"empty key", "", 1, local.ErrKeyEmpty},
				{"oversize key", strings.Repeat("k", local.MaxKeyLen+1), 1, local.ErrKeyTooLong},
				{"someone else's key", "k", 2, notOwner},
				{"unknown key", "nope", 1, local.ErrNotFound},
				{"own key", "k", 1, nil},
				{"again", "k", 1, local.ErrNotFound},
			}
			for _, tt := range tests {
				err := r.Unregister(tt.key, tt.pid)
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("%s: Unregister = %v, want %v", tt.name, err, tt.want)
				}
			}
			if r.Count() != 0 || r.IndexedPIDs() != 0 {
				t.Fatalf("Count %d, indexed pids %d after unregister", r.Count(), r.IndexedPIDs())
			}
			checkInv(t, r)
		})
	}
}

func TestUpdateValue(t *testing.T) {
	r := newReg(t, local.Config[pid]{})
	if err := r.Register("k", 1, 10); err != nil {
		t.Fatal(err)
	}
	inc := func(old any) any { return old.(int) + 1 }
	tests := []struct {
		name       string
		key        string
		pid        pid
		fn         func(any) any
		want       error
		newV, oldV any
	}{
		{"own key", "k", 1, inc, nil, 11, 10},
		{"again", "k", 1, inc, nil, 12, 11},
		{"other's key", "k", 2, inc, local.ErrNotOwner, nil, nil},
		{"free key", "free", 1, inc, local.ErrNotFound, nil, nil},
		{"nil fn", "k", 1, nil, local.ErrNilFunc, nil, nil},
		{"empty key", "", 1, inc, local.ErrKeyEmpty, nil, nil},
	}
	for _, tt := range tests {
		newV, oldV, err := r.UpdateValue(tt.key, tt.pid, tt.fn)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || newV != tt.newV || oldV != tt.oldV {
			t.Fatalf("%s: UpdateValue = %v, %v, %v; want %v, %v, %v", tt.name, newV, oldV, err, tt.newV, tt.oldV, tt.want)
		}
	}
	if _, v, _ := r.Whereis("k"); v != 12 {
		t.Fatalf("value %v, want 12", v)
	}
	dup := newReg(t, local.Config[pid]{Keys: local.DuplicateByKey})
	if _, _, err := dup.UpdateValue("k", 1, inc); !errors.Is(err, local.ErrNotUnique) {
		t.Fatalf("duplicate UpdateValue: %v, want ErrNotUnique", err)
	}
}

func TestErrorStrings(t *testing.T) {
	err := error(&local.AlreadyRegisteredError[pid]{Key: "k", Owner: 7})
	if !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), "7") {
		t.Fatalf("message %q lacks key or owner", err)
	}
	for _, s := range []interface{ String() string }{local.Unique, local.DuplicateByPID, local.DuplicateByKey,
		local.Registered, local.Unregistered} {
		if s.String() == "" || strings.Contains(s.String(), "(") {
			t.Errorf("%#v has no name", s)
		}
	}
	if !strings.Contains(local.Kind(42).String(), "42") {
		t.Errorf("unknown kind prints %q", local.Kind(42))
	}
}
