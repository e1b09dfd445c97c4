package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// job is a small struct message, as in package node's benchmarks.
type job struct {
	ID   int      `msgpack:"id"`
	Tags []string `msgpack:"tags"`
}

// BenchmarkClusterSend compares a cross-node send by pid with sends by
// global name (a local-replica lookup on the sender, a fence check on the
// receiver) between two nodes of a 3-node cluster over loopback TCP. Each
// op is one message sent and received.
func BenchmarkClusterSend(b *testing.B) {
	nodes := startCluster(b, 3)
	sender, receiver := nodes[0], nodes[1]
	ctx := context.Background()
	var received atomic.Int64
	pid, err := receiver.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			if _, err := p.Receive(ctx); err != nil {
				return nil
			}
			received.Add(1)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := receiver.RegisterGlobal(ctx, "bench/receiver", pid, nil)
	if err != nil {
		b.Fatal(err)
	}
	pollFor(b, 5*time.Second, func() error { _, _, err := sender.LookupGlobal(ctx, "bench/receiver"); return err })
	msg := job{ID: 42, Tags: []string{"bench"}}
	run := func(name string, dest node.Dest) {
		b.Run(name, func(b *testing.B) {
			start := received.Load()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := sender.Send(ctx, dest, msg); err != nil {
					b.Fatal(err)
				}
			}
			pollFor(b, 30*time.Second, func() error {
				if got := received.Load() - start; got < int64(b.N) {
					return fmt.Errorf("%d of %d messages received", got, b.N)
				}
				return nil
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
	run("pid", pid)
	run("global", node.Global("bench/receiver"))
	run("global-fenced", node.GlobalFenced{Name: "bench/receiver", Fence: reg.Fence})
}
