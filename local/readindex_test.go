package local

import (
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// TestReadIndexModel drives a readIndex and a plain map with the same
// seeded random operations and checks they agree, through growth, shrinking
// and tombstone churn.
func TestReadIndexModel(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	ri := newReadIndex[int]()
	model := map[string]*record[int]{}
	rec := func(k string, v int) *record[int] {
		return &record[int]{hash: maphash.String(seed, k), key: k, pid: v, value: v}
	}
	for round := range 3 {
		n := 5000 * (round + 1)
		for range 4 * n {
			k := "k" + strconv.Itoa(rng.IntN(n))
			old := model[k]
			switch r := rec(k, rng.Int()); {
			case rng.IntN(3) == 2:
				if old != nil {
					ri.del(old)
					delete(model, k)
				}
			case old != nil && rng.IntN(2) == 0:
				ri.replace(old, r)
				model[k] = r
			default:
				ri.put(r) // a new key, or replacing by key
				model[k] = r
			}
		}
		checkReadIndex(t, ri, model, seed)
		// Drain to nothing: the table must shrink back.
		for k, r := range model {
			ri.del(r)
			delete(model, k)
		}
		checkReadIndex(t, ri, model, seed)
		if got := len(ri.tab.Load().slots); got != minSlots {
			t.Fatalf("round %d: empty index kept %d slots", round, got)
		}
	}
}

func checkReadIndex(t *testing.T, ri *readIndex[int], model map[string]*record[int], seed maphash.Seed) {
	t.Helper()
	if ri.live != len(model) {
		t.Fatalf("live %d, model %d", ri.live, len(model))
	}
	if n := len(ri.tab.Load().slots); ri.used*4 > n*3 {
		t.Fatalf("table over 3/4 full: used %d of %d", ri.used, n)
	}
	for k, want := range model {
		if r := ri.get(k, maphash.String(seed, k)); r != want {
			t.Fatalf("get(%q) = %v, want %v", k, r, want)
		}
	}
	if r := ri.get("absent", maphash.String(seed, "absent")); r != nil {
		t.Fatalf("get(absent) = %v", r)
	}
}

// TestReadIndexConcurrentReaders reads while a writer churns and rebuilds
// (run with -race): a key that is never deleted is always found.
func TestReadIndexConcurrentReaders(t *testing.T) {
	seed := maphash.MakeSeed()
	ri := newReadIndex[int]()
	stable := &record[int]{hash: maphash.String(seed, "stable"), key: "stable", pid: 42}
	ri.put(stable)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if r := ri.get("stable", stable.hash); r == nil || r.pid != 42 {
					t.Error("stable key lost during rebuild")
					return
				}
			}
		})
	}
	recs := map[string]*record[int]{}
	for i := range 20000 {
		k := "k" + strconv.Itoa(i%3000)
		if old := recs[k]; old != nil {
			ri.del(old)
			delete(recs, k)
		} else {
			recs[k] = &record[int]{hash: maphash.String(seed, k), key: k, pid: i}
			ri.put(recs[k])
		}
	}
	close(done)
	wg.Wait()
}
