package local_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/local"
)

// Run with, e.g.:
//
//	go test -run '^$' -bench . -benchmem -benchtime=1s ./local/
//
// BenchmarkOwnerExitCleanup builds 1,000,000 entries; give it -benchtime=1x.

// reportCPU reports the process CPU time per op since start: unlike wall
// ns/op it does not grow when other processes take the machine's cores.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

func keysN(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "worker-" + strconv.Itoa(i)
	}
	return ks
}

// uniqueReg returns a unique registry holding n keys of n distinct pids.
func uniqueReg(b *testing.B, parts, n int) (*local.Registry[pid], []string) {
	r := newReg(b, local.Config[pid]{Partitions: parts})
	ks := keysN(n)
	for i, k := range ks {
		if err := r.Register(k, pid(i+1), i); err != nil {
			b.Fatal(err)
		}
	}
	return r, ks
}

func BenchmarkWhereis(b *testing.B) {
	for _, parts := range []int{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			r, ks := uniqueReg(b, parts, 10_000)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, ok := r.Whereis(ks[i%len(ks)]); !ok {
					b.Fatal("not found")
				}
				i++
			}
		})
	}
}

// BenchmarkWhereisParallel reads from all GOMAXPROCS goroutines. Besides
// wall ns/op it reports cpu-ns/op, the process CPU time per lookup: it
// stays flat as -cpu grows when reads scale linearly, whatever else the
// machine is running, while contention (cache-line bouncing) makes it grow.
func BenchmarkWhereisParallel(b *testing.B) {
	for _, parts := range []int{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			r, ks := uniqueReg(b, parts, 10_000)
			b.ReportAllocs()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, _, ok := r.Whereis(ks[i%len(ks)]); !ok {
						b.Error("not found")
						return
					}
					i++
				}
			})
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkBaselineRWMutexMap is the control for BenchmarkWhereisParallel:
// the same reads through a map behind one sync.RWMutex, the design the
// read index replaces.
func BenchmarkBaselineRWMutexMap(b *testing.B) {
	var mu sync.RWMutex
	m := make(map[string]pid)
	ks := keysN(10_000)
	for i, k := range ks {
		m[k] = pid(i + 1)
	}
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			mu.RLock()
			_, ok := m[ks[i%len(ks)]]
			mu.RUnlock()
			if !ok {
				b.Error("not found")
				return
			}
			i++
		}
	})
	reportCPU(b, cpu)
}

// BenchmarkLookup is the slice-returning lookup (one allocation for the
// result).
func BenchmarkLookup(b *testing.B) {
	r, ks := uniqueReg(b, 1, 10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if len(r.Lookup(ks[i%len(ks)])) != 1 {
			b.Fatal("not found")
		}
		i++
	}
}

// BenchmarkRegisterUnregister measures a Register+Unregister pair of a
// pid's only key, so each pair also attaches and detaches the owner.
func BenchmarkRegisterUnregister(b *testing.B) {
	for _, owners := range []bool{false, true} {
		b.Run(fmt.Sprintf("owners=%v", owners), func(b *testing.B) {
			rt := newRuntime()
			cfg := local.Config[pid]{}
			if owners {
				cfg.Owners = rt
			}
			r := newReg(b, cfg)
			p := rt.Spawn()
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := r.Register("k", p, nil); err != nil {
					b.Fatal(err)
				}
				if err := r.Unregister("k", p); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkUnregisterAmongHeld: one process holding 1k or 200k keys
// unregisters one of them and registers it back. Only the number of keys
// the process holds changes: the table holds 200k entries in both cases
// (other processes hold the rest) and the loop cycles over the same 1,000
// keys of the process, so cache effects are nearly the same (only the
// neighbours in the process's list of entries differ). Equal
// figures show the cost does not depend on the keys held (Elixir's
// unregister is linear in them).
func BenchmarkUnregisterAmongHeld(b *testing.B) {
	const table, working = 200_000, 1_000
	for _, held := range []int{1_000, 200_000} {
		b.Run(fmt.Sprintf("held=%d/table=%d", held, table), func(b *testing.B) {
			rt := newRuntime()
			r := newReg(b, local.Config[pid]{Owners: rt})
			ks := keysN(table)
			p := rt.Spawn()
			stride := table / held // p holds every stride-th key
			var filler pid
			for i, k := range ks {
				owner := p
				if i%stride != 0 {
					if filler == 0 || i%1000 == 1 {
						filler = rt.Spawn()
					}
					owner = filler
				}
				if err := r.Register(k, owner, nil); err != nil {
					b.Fatal(err)
				}
			}
			// The same 1,000 keys, spread alike through memory, either way.
			work := make([]string, working)
			for i := range work {
				work[i] = ks[i*(table/working)]
			}
			b.ReportAllocs()
			cpu := processCPU()
			i := 0
			for b.Loop() {
				k := work[i%working]
				if err := r.Unregister(k, p); err != nil {
					b.Fatal(err)
				}
				if err := r.Register(k, p, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu)
			if n := len(r.Keys(p)); n != held {
				b.Fatalf("process holds %d keys, want %d", n, held)
			}
		})
	}
}

// BenchmarkOwnerExitCleanup: 100,000 processes holding 10 keys each exit;
// it reports the wall time until all 1,000,000 entries are gone, and the
// CPU time the process spent meanwhile (all goroutines, GC included), which
// does not depend on how busy the machine is.
func BenchmarkOwnerExitCleanup(b *testing.B) {
	const procs, perProc = 100_000, 10
	ks := keysN(procs * perProc)
	for b.Loop() {
		b.StopTimer()
		rt := newRuntime()
		r := newReg(b, local.Config[pid]{Owners: rt})
		ps := make([]pid, procs)
		for i := range ps {
			ps[i] = rt.Spawn()
			for j := range perProc {
				if err := r.Register(ks[i*perProc+j], ps[i], j); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC() // the setup's garbage is not part of the cleanup
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		for _, p := range ps {
			rt.Exit(p, nil)
		}
		elapsed, cpu := time.Since(start), processCPU()-cpu
		if r.Count() != 0 || r.TrackedPIDs() != 0 || r.IndexedPIDs() != 0 {
			b.Fatalf("left: count %d tracked %d indexed %d", r.Count(), r.TrackedPIDs(), r.IndexedPIDs())
		}
		b.ReportMetric(elapsed.Seconds(), "s/1M-entries-cleanup")
		b.ReportMetric(cpu.Seconds(), "cpu-s/1M-entries-cleanup")
	}
}

// mailbox is a cheap stand-in for a process mailbox.
type mailbox struct {
	mu   sync.Mutex
	msgs []any
}

func (m *mailbox) send(msg any) {
	m.mu.Lock()
	if len(m.msgs) == 1024 {
		m.msgs = m.msgs[:0] // a consumer drained it
	}
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
}

// BenchmarkDispatch sends one message to each of 1,000 duplicate-key
// entries per op; deliveries/s is the throughput, deliveries/cpu-s the same
// per CPU second used (independent of other load on the machine).
func BenchmarkDispatch(b *testing.B) {
	for _, kind := range []local.Kind{local.DuplicateByKey, local.DuplicateByPID} {
		b.Run(kind.String(), func(b *testing.B) {
			r := newReg(b, local.Config[pid]{Keys: kind, Partitions: 4})
			for i := range 1000 {
				if err := r.Register("pool", pid(i+1), &mailbox{msgs: make([]any, 0, 1024)}); err != nil {
					b.Fatal(err)
				}
			}
			var delivered atomic.Int64 // counted where a message lands, not per op
			send := func(es []local.Entry[pid]) {
				for _, e := range es {
					e.Value.(*mailbox).send("job")
					delivered.Add(1)
				}
			}
			b.ReportAllocs()
			start, cpu := time.Now(), processCPU()
			for b.Loop() {
				if err := r.Dispatch("pool", send); err != nil {
					b.Fatal(err)
				}
			}
			d := float64(delivered.Load())
			if want := int64(b.N) * 1000; delivered.Load() != want {
				b.Fatalf("delivered %d messages, want %d (1,000 entries x %d ops)", delivered.Load(), want, b.N)
			}
			b.ReportMetric(d/time.Since(start).Seconds(), "deliveries/s")
			if used := (processCPU() - cpu).Seconds(); used > 0 {
				b.ReportMetric(d/used, "deliveries/cpu-s")
			}
		})
	}
}
