package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// Targets (issue 12): join+leave >= 500k/s on one node; GroupMembers of a
// 1,000-member group <= 5 µs; Publish to 1,000 members over 3 nodes >= 2 M
// deliveries/s; a sync of 100k members to a new node <= 1 s.

func BenchmarkGroupJoinLeave(b *testing.B) {
	c := newGroupTestCluster(b, 1, 1, DefaultGroupConfig())
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	pids := make([]node.PID, 256)
	for i := range pids {
		pids[i] = c.spawnIdle(0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := groupProcessCPU()
	for i := 0; i < b.N; i++ {
		p := pids[i%len(pids)]
		if err := s.JoinGroup("g", p, nil); err != nil {
			b.Fatal(err)
		}
		if err := s.LeaveGroup("g", p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "join+leave/s")
	if cpu := groupProcessCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkGroupJoinLeaveReplicated is join+leave with two peers to
// replicate to (the batches go out in the background).
func BenchmarkGroupJoinLeaveReplicated(b *testing.B) {
	c := newGroupTestCluster(b, 3, 1, DefaultGroupConfig())
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	pids := make([]node.PID, 256)
	for i := range pids {
		pids[i] = c.spawnIdle(0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := groupProcessCPU()
	for i := 0; i < b.N; i++ {
		p := pids[i%len(pids)]
		if err := s.JoinGroup("g", p, nil); err != nil {
			b.Fatal(err)
		}
		if err := s.LeaveGroup("g", p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "join+leave/s")
	if cpu := groupProcessCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkGroupMembers1000(b *testing.B) {
	c := newGroupTestCluster(b, 1, 1, DefaultGroupConfig())
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	for i := 0; i < 1000; i++ {
		if err := s.JoinGroup("g", c.spawnIdle(0), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		n += len(s.GroupMembers("g"))
	}
	if n != 1000*b.N {
		b.Fatalf("saw %d members", n)
	}
}

// BenchmarkGroupPublish1000Over3 publishes to a 1,000-member group spread
// over three nodes and waits until every member has every message.
func BenchmarkGroupPublish1000Over3(b *testing.B) {
	c := newGroupTestCluster(b, 3, 1, DefaultGroupConfig())
	var got atomic.Int64
	for i := 0; i < 1000; i++ {
		at := i % 3
		s, _ := c.nodes[at].e.scope(DefaultGroupScope)
		p, err := c.nodes[at].rt.Spawn(func(ctx context.Context, p *node.Process) error {
			for {
				if _, err := p.Receive(ctx); err != nil {
					return nil
				}
				got.Add(1)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.JoinGroup("g", p, nil); err != nil {
			b.Fatal(err)
		}
	}
	groupWait(b, 10*time.Second, "converged", c.converged)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := groupProcessCPU()
	for i := 0; i < b.N; i++ {
		if n, err := s0.Publish(ctx, "g", i); err != nil || n != 1000 {
			b.Fatalf("published to %d: %v", n, err)
		}
	}
	want := int64(1000 * b.N)
	groupWait(b, time.Minute, "all delivered", func() error {
		if n := got.Load(); n < want {
			return fmt.Errorf("%d of %d delivered", n, want)
		}
		return nil
	})
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
	if cpu := groupProcessCPU() - cpu0; cpu > 0 {
		// CPU time per delivery, all three nodes and every member's
		// goroutine included: the figure that does not depend on load.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(want), "cpu-ns/delivery")
	}
}

// BenchmarkGroupSync100k measures how long a node that appears takes to
// receive a full sync of 100k memberships (1,000 processes in 100 groups
// each) from one peer.
func BenchmarkGroupSync100k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := newGroupTestCluster(b, 2, int64(i), DefaultGroupConfig())
		// Cut n2 off from n1's groups until the members exist.
		c.nodes[0].e.peerGone("n2", 0, GroupNodeLeft)
		c.nodes[1].e.peerGone("n1", 0, GroupNodeLeft)
		s, _ := c.nodes[0].e.scope(DefaultGroupScope)
		for p := 0; p < 1000; p++ {
			pid := c.spawnIdle(0)
			for g := 0; g < 100; g++ {
				if err := s.JoinGroup(fmt.Sprintf("group-%03d", g), pid, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		s1, _ := c.nodes[1].e.scope(DefaultGroupScope)
		b.StartTimer()
		start := time.Now()
		c.nodes[1].e.peerAlive("n1", c.nodes[0].inc)
		c.nodes[0].e.peerAlive("n2", c.nodes[1].inc)
		groupWait(b, time.Minute, "synced", func() error {
			if st := s1.Stats(); st.RemoteMembers != 100_000 {
				return fmt.Errorf("%d of 100000", st.RemoteMembers)
			}
			return nil
		})
		b.ReportMetric(time.Since(start).Seconds()*1000, "ms/sync")
		b.StopTimer()
		c.shutdown()
		b.StartTimer()
	}
}
