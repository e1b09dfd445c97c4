package local_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/local"
)

func TestDispatch(t *testing.T) {
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		for _, parallel := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/parallel=%v", kind, parallel), func(t *testing.T) {
				r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 4})
				n := 10
				if kind == local.Unique {
					n = 1
				}
				for i := range n {
					if err := r.Register("k", pid(i+1), i); err != nil {
						t.Fatal(err)
					}
				}
				var opts []local.DispatchOption
				if parallel {
					opts = append(opts, local.Parallel())
				}
				var mu sync.Mutex
				var got []pid
				calls := 0
				err := r.Dispatch("k", func(es []local.Entry[pid]) {
					mu.Lock()
					defer mu.Unlock()
					calls++
					if len(es) == 0 {
						t.Error("fn called with no entries")
					}
					for _, e := range es {
						got = append(got, e.PID)
						if e.Value != int(e.PID)-1 || e.Key != "k" {
							t.Errorf("entry %+v", e)
						}
					}
				}, opts...)
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if len(got) != n || got[0] != 1 || got[n-1] != pid(n) {
					t.Fatalf("dispatched to %v", got)
				}
				if kind != local.DuplicateByPID && calls != 1 {
					t.Fatalf("fn called %d times, want once (key in one partition)", calls)
				}
				called := false
				if err := r.Dispatch("none", func([]local.Entry[pid]) { called = true }, opts...); err != nil || called {
					t.Fatalf("Dispatch to no entries: err %v, called %v", err, called)
				}
			})
		}
	}
}

// TestDispatchMayWrite checks fn runs outside the registry's locks.
func TestDispatchMayWrite(t *testing.T) {
	r := newReg(t, local.Config[pid]{Keys: local.DuplicateByKey})
	for i := range 3 {
		if err := r.Register("k", pid(i+1), nil); err != nil {
			t.Fatal(err)
		}
	}
	err := r.Dispatch("k", func(es []local.Entry[pid]) {
		for _, e := range es {
			if err := r.Unregister("k", e.PID); err != nil {
				t.Error(err)
			}
		}
	}, local.DispatchOption{}) // the zero option changes nothing
	if err != nil || r.Count() != 0 {
		t.Fatalf("err %v, count %d", err, r.Count())
	}
}

func TestMeta(t *testing.T) {
	r := newReg(t, local.Config[pid]{})
	if _, ok := r.Meta("m"); ok {
		t.Fatal("meta of a fresh registry")
	}
	if err := r.PutMeta("m", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.PutMeta("m", 2); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Meta("m"); !ok || v != 2 {
		t.Fatalf("Meta = %v %v", v, ok)
	}
	r.DeleteMeta("m")
	r.DeleteMeta("never")
	if _, ok := r.Meta("m"); ok {
		t.Fatal("meta survived DeleteMeta")
	}
	if err := r.PutMeta("", 1); !errors.Is(err, local.ErrKeyEmpty) {
		t.Fatalf("PutMeta empty = %v", err)
	}
}

func TestLockSerialises(t *testing.T) {
	r := newReg(t, local.Config[pid]{})
	var inside, maxInside, total atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				err := r.Lock(context.Background(), "L", func() {
					n := inside.Add(1)
					if n > maxInside.Load() {
						maxInside.Store(n)
					}
					total.Add(1)
					inside.Add(-1)
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 || total.Load() != 400 {
		t.Fatalf("max holders %d, runs %d", maxInside.Load(), total.Load())
	}
	if r.LockKeys() != 0 {
		t.Fatalf("%d lock keys left", r.LockKeys())
	}
}

func TestLockContext(t *testing.T) {
	r := newReg(t, local.Config[pid]{})
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- r.Lock(context.Background(), "L", func() { close(held); <-release })
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	if err := r.Lock(ctx, "L", func() { ran = true }); !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("Lock while held: %v, ran %v", err, ran)
	}
	// Another key is independent.
	if err := r.Lock(context.Background(), "other", func() {}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		key  string
		fn   func()
		want error
	}{
		{"nil fn", context.Background(), "L", nil, local.ErrNilFunc},
		{"empty key", context.Background(), "", func() {}, local.ErrKeyEmpty},
		{"canceled ctx", canceled, "L", func() {}, context.Canceled},
	}
	for _, tt := range tests {
		if err := r.Lock(tt.ctx, tt.key, tt.fn); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if r.LockKeys() != 0 {
		t.Fatalf("%d lock keys left", r.LockKeys())
	}
}
