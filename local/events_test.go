package local_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/roster-dev/roster/local"
)

// recorder is a listener that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []local.Event[pid]
}

func (rec *recorder) listen(ev local.Event[pid]) {
	rec.mu.Lock()
	rec.evs = append(rec.evs, ev)
	rec.mu.Unlock()
}

func (rec *recorder) take() []local.Event[pid] {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	evs := rec.evs
	rec.evs = nil
	return evs
}

var errBoom = errors.New("boom")

func TestListenerEvents(t *testing.T) {
	rt := newRuntime()
	a, b := rt.Spawn(), rt.Spawn()
	rec := &recorder{}
	r := newReg(t, local.Config[pid]{Name: "reg", Keys: local.DuplicateByKey, Owners: rt,
		Listeners: []local.Listener[pid]{rec.listen}})
	ev := func(typ local.EventType, key string, p pid, v any, c local.Reason, reason error) local.Event[pid] {
		return local.Event[pid]{Registry: "reg", Type: typ, Key: key, PID: p, Value: v, Reason: c, ExitReason: reason}
	}
	steps := []struct {
		name string
		do   func()
		want []local.Event[pid]
	}{
		{"register", func() { _ = r.Register("k", a, 1) },
			[]local.Event[pid]{ev(local.Registered, "k", a, 1, local.ReasonRegister, nil)}},
		{"unregister", func() { _ = r.Unregister("k", a) },
			[]local.Event[pid]{ev(local.Unregistered, "k", a, 1, local.ReasonUnregister, nil)}},
		{"failed unregister is silent", func() { _ = r.Unregister("k", a) }, nil},
		{"unregister match", func() {
			_ = r.Register("m", a, 2)
			_, _ = r.UnregisterMatch("m", a, isEven)
		}, []local.Event[pid]{
			ev(local.Registered, "m", a, 2, local.ReasonRegister, nil),
			ev(local.Unregistered, "m", a, 2, local.ReasonUnregisterMatch, nil),
		}},
		{"update value is silent", func() {}, nil},
		{"crash carries the reason", func() {
			_ = r.Register("x", b, 3)
			rt.Exit(b, errBoom)
		}, []local.Event[pid]{
			ev(local.Registered, "x", b, 3, local.ReasonRegister, nil),
			ev(local.Unregistered, "x", b, 3, local.ReasonProcessExit, errBoom),
		}},
		{"exit of a pid without entries is silent", func() { rt.Exit(a, nil) }, nil},
	}
	for _, s := range steps {
		s.do()
		got := rec.take()
		if len(got) != len(s.want) {
			t.Fatalf("%s: events %+v, want %+v", s.name, got, s.want)
		}
		for i := range got {
			if got[i] != s.want[i] {
				t.Fatalf("%s: event %d = %+v, want %+v", s.name, i, got[i], s.want[i])
			}
		}
	}
}

// TestListenerOrderPerPartition checks that concurrent writers deliver a
// key's events in table order: for every key the stream alternates
// registered/unregistered.
func TestListenerOrderPerPartition(t *testing.T) {
	rec := &recorder{}
	r := newReg(t, local.Config[pid]{Partitions: 2, Listeners: []local.Listener[pid]{rec.listen}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 200 {
				// All goroutines fight over one key; only the winner's
				// register and unregister produce events.
				if r.Register("hot", pid(g+1), nil) == nil {
					_ = r.Unregister("hot", pid(g+1))
				}
			}
		})
	}
	wg.Wait()
	evs := rec.take()
	if len(evs) == 0 || len(evs)%2 != 0 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		wantType := local.Registered
		if i%2 == 1 {
			wantType = local.Unregistered
			if ev.PID != evs[i-1].PID {
				t.Fatalf("event %d: %v unregistered after %v registered", i, ev.PID, evs[i-1].PID)
			}
		}
		if ev.Type != wantType {
			t.Fatalf("event %d is %s, want %s: events out of order", i, ev.Type, wantType)
		}
	}
}

// TestListenerMayRead checks that a listener can read the registry (it runs
// outside the table lock) and sees the change already made.
func TestListenerMayRead(t *testing.T) {
	var r *local.Registry[pid]
	seen := -1
	r = newReg(t, local.Config[pid]{Listeners: []local.Listener[pid]{func(ev local.Event[pid]) {
		seen = len(r.Lookup(ev.Key))
	}}})
	if err := r.Register("k", 1, nil); err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Fatalf("listener saw %d entries, want 1", seen)
	}
}
