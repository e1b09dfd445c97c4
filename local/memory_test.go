package local_test

import (
	"fmt"
	goruntime "runtime"
	"testing"

	"github.com/roster-dev/roster/local"
)

// heapAfterGC returns the live heap, in bytes, after a full collection.
func heapAfterGC() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryReturnedAfterExit fills registries with 100,000 entries held by
// 20,000 processes, lets the processes exit, and checks that the registry
// gives the memory back: no per-pid index, attachment, or oversized map
// outlives the entries.
func TestMemoryReturnedAfterExit(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~50 MB")
	}
	for _, kind := range []local.Kind{local.Unique, local.DuplicateByPID, local.DuplicateByKey} {
		t.Run(kind.String(), func(t *testing.T) {
			rt := newRuntime()
			r := newReg(t, local.Config[pid]{Keys: kind, Partitions: 2, Owners: rt})
			base := heapAfterGC()
			const procs, per = 20_000, 5
			ps := make([]pid, procs)
			for i := range ps {
				ps[i] = rt.Spawn()
				for j := range per {
					if err := r.Register(fmt.Sprintf("key-%d-%d", i, j), ps[i], i); err != nil {
						t.Fatal(err)
					}
				}
			}
			full := heapAfterGC()
			for _, p := range ps {
				rt.Exit(p, nil)
			}
			rt.forgetDead() // the fake runtime's own maps are not under test
			empty := heapAfterGC()
			t.Logf("heap: base %d KB, full %d KB, after exits %d KB", base>>10, full>>10, empty>>10)
			if r.Count() != 0 || r.TrackedPIDs() != 0 || r.IndexedPIDs() != 0 || rt.Attached() != 0 {
				t.Fatalf("count %d tracked %d indexed %d attached %d",
					r.Count(), r.TrackedPIDs(), r.IndexedPIDs(), rt.Attached())
			}
			// Allow 1/20 of the full registry's size for noise and runtime
			// caches; a leaked index would keep far more.
			if grown := int64(empty) - int64(base); grown > int64(full-base)/20 {
				t.Fatalf("registry kept %d KB of %d KB after all owners exited", grown>>10, (full-base)>>10)
			}
		})
	}
}
