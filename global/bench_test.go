package global

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Run with short, fixed counts, e.g.:
//
//	go test -run '^$' -bench 'Parallel|Lookup' -benchtime 20000x ./global/
//	go test -run '^$' -bench 'Serial' -benchtime 2000x ./global/
//
// Every benchmark starts a 3-voter cluster in this process: raft TCP on
// 127.0.0.1:0, data dirs in temp dirs, fsync on. The register benchmarks
// run once per log store (sub-benchmarks wal and boltdb):
//
//	go test -run '^$' -bench 'RegisterSerialLeader|RegisterParallel64$' -benchtime 3000x -count 3 ./global/

// BenchmarkRegisterParallel64 registers distinct names from 64 concurrent
// callers spread over the 3 nodes (two thirds of them forward to the
// leader).
func BenchmarkRegisterParallel64(b *testing.B) {
	eachLogStore(b, func(b *testing.B, mod func(*Config)) {
		benchParallel(b, newTestClusterWith(b, 3, hclog.Warn, mod))
	})
}

// eachLogStore runs fn as one sub-benchmark per log store.
func eachLogStore(b *testing.B, fn func(b *testing.B, mod func(*Config))) {
	for _, store := range []LogStore{LogStoreWAL, LogStoreBoltDB} {
		b.Run(string(store), func(b *testing.B) {
			fn(b, func(c *Config) { c.LogStore = store })
		})
	}
}

// BenchmarkRegisterParallel64Unbatched is the baseline: one command per
// raft entry, up to 64 entries in flight (raft's BatchApplyCh still shares
// fsyncs between entries), no forwarding batches.
func BenchmarkRegisterParallel64Unbatched(b *testing.B) {
	benchParallel(b, newTestClusterWith(b, 3, hclog.Warn, func(c *Config) {
		c.MaxBatch, c.MaxInflight, c.MaxForwardInflight, c.BatchLinger = 1, 64, 64, 0
	}))
}

func benchParallel(b *testing.B, c *testCluster) {
	ctx := context.Background()
	var seq, caller atomic.Uint64
	b.SetParallelism(max(1, 64/testingProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		tb := c.tables[caller.Add(1)%3]
		owner := pid("bench", 1, caller.Load())
		for pb.Next() {
			n := seq.Add(1)
			if _, err := tb.Register(ctx, "p-"+strconv.FormatUint(n, 10), owner, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "regs/s")
}

// BenchmarkRegisterSerialLeader measures one caller's register latency on
// the leader.
func BenchmarkRegisterSerialLeader(b *testing.B) {
	eachLogStore(b, func(b *testing.B, mod func(*Config)) {
		c := newTestClusterWith(b, 3, hclog.Warn, mod)
		benchSerial(b, c.tables[c.waitLeader()])
	})
}

// BenchmarkRegisterSerialFollower measures one caller's register latency
// on a follower (one forwarded RPC per write).
func BenchmarkRegisterSerialFollower(b *testing.B) {
	c := newTestCluster(b, 3, hclog.Warn)
	benchSerial(b, c.tables[c.follower()])
}

func benchSerial(b *testing.B, tb *Table) {
	ctx := context.Background()
	owner := pid("bench", 1, 1)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := tb.Register(ctx, "s-"+strconv.Itoa(i), owner, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLookupLocal reads the local replica of a follower.
func BenchmarkLookupLocal(b *testing.B) {
	c := newTestCluster(b, 3, hclog.Warn)
	tb := c.tables[c.follower()]
	if _, err := tb.Register(context.Background(), "svc", pid("bench", 1, 1), nil); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 5*time.Second, func() error { _, _, err := tb.Lookup(context.Background(), "svc"); return err })
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := tb.Lookup(context.Background(), "svc"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupConsistent runs linearizable lookups from 16 concurrent
// callers on the leader.
func BenchmarkLookupConsistent(b *testing.B) {
	c := newTestCluster(b, 3, hclog.Warn)
	tb := c.tables[c.waitLeader()]
	if _, err := tb.Register(context.Background(), "svc", pid("bench", 1, 1), nil); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, 16/testingProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := tb.Lookup(context.Background(), "svc", Consistent); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
}
