package node

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// cpuTime returns the CPU time (user+system, all threads) this process has
// used. Benchmarks report CPU ns per op beside wall ns/op: on a machine
// shared with other work, wall time includes waiting for a core and CPU
// time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time used since cpu0 per unit.
func reportCPU(b *testing.B, cpu0 time.Duration, units float64, name string) {
	b.ReportMetric(float64(cpuTime()-cpu0)/units, name)
}

func benchNode(b *testing.B) *Node {
	b.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = "bench"
	cfg.Logger = hclog.NewNullLogger()
	n, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n
}

// BenchmarkSpawnExit measures spawning a process that returns at once and
// waiting for its exit (one at a time).
func BenchmarkSpawnExit(b *testing.B) {
	n := benchNode(b)
	done := make(chan struct{})
	fn := func(context.Context, *Process) error { done <- struct{}{}; return nil }
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := n.Spawn(fn); err != nil {
			b.Fatal(err)
		}
		<-done
	}
	reportCPU(b, cpu0, float64(b.N), "cpu-ns/op")
}

// BenchmarkSendReceiveRoundTrip measures a ping-pong between two local
// processes: one op is a Send plus a Receive in each direction.
func BenchmarkSendReceiveRoundTrip(b *testing.B) {
	n := benchNode(b)
	echo, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if err := p.Send(ctx, m.From, m.Body); err != nil {
				return nil
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	result := make(chan error, 1)
	start := make(chan struct{})
	_, err = n.Spawn(func(ctx context.Context, p *Process) error {
		<-start
		for i := 0; i < b.N; i++ {
			if err := p.Send(ctx, echo, i); err != nil {
				result <- err
				return nil
			}
			if _, err := p.Receive(ctx); err != nil {
				result <- err
				return nil
			}
		}
		result <- nil
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	close(start)
	if err := <-result; err != nil {
		b.Fatal(err)
	}
	reportCPU(b, cpu0, float64(b.N), "cpu-ns/op")
}

// BenchmarkSendLocal measures a one-way Send into a mailbox drained by its
// process.
func BenchmarkSendLocal(b *testing.B) {
	n := benchNode(b)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			if _, err := p.Receive(ctx); err != nil {
				return nil
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Send(ctx, pid, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatch dispatches through the node's Groups registry to 1,000
// processes under one key, each entry a real Send into a real mailbox. The
// workers are busy (not parked in Receive), as in a loaded pool, so a
// delivery is a lookup, a lock and an append; the mailboxes are emptied
// every 64 rounds with the timer stopped. Reported: deliveries/s.
func BenchmarkDispatch(b *testing.B) {
	n := benchNode(b)
	procs := spawnPool(b, n, 1000, func(ctx context.Context, p *Process) error {
		<-ctx.Done()
		return nil
	})
	ctx := context.Background()
	var delivered, failed atomic.Int64 // what Send accepted, not what was attempted
	send := func(es []localEntry) {
		for _, e := range es {
			if n.Send(ctx, e.PID, "task") == nil {
				delivered.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var drainCPU time.Duration
	for i := 0; i < b.N; i++ {
		if err := n.Groups().Dispatch("pool", send); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			c := cpuTime()
			b.StopTimer()
			for _, p := range procs {
				p.mb.mu.Lock()
				clear(p.mb.q)
				p.mb.q, p.mb.head = p.mb.q[:0], 0
				p.mb.mu.Unlock()
			}
			drainCPU += cpuTime() - c
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(delivered.Load())/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
	reportCPU(b, cpu0+drainCPU, float64(delivered.Load()), "cpu-ns/delivery")
}

// BenchmarkDispatchWake is BenchmarkDispatch with every worker parked in
// Receive, so each delivery also wakes a goroutine.
func BenchmarkDispatchWake(b *testing.B) {
	n := benchNode(b)
	spawnPool(b, n, 1000, func(ctx context.Context, p *Process) error {
		for {
			if _, err := p.Receive(ctx); err != nil {
				return nil
			}
		}
	})
	ctx := context.Background()
	var delivered, failed atomic.Int64 // what Send accepted, not what was attempted
	send := func(es []localEntry) {
		for _, e := range es {
			if n.Send(ctx, e.PID, "task") == nil {
				delivered.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Groups().Dispatch("pool", send); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(delivered.Load())/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
}

// spawnPool spawns size processes registered under "pool" in Groups.
func spawnPool(b *testing.B, n *Node, size int, fn ProcessFunc) []*Process {
	b.Helper()
	procs := make([]*Process, 0, size)
	for i := 0; i < size; i++ {
		pid, err := n.Spawn(fn)
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Groups().Register("pool", pid, nil); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, n.lookup(pid))
	}
	return procs
}
