package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/roster-dev/roster/transport"
)

// clusterOf builds started nodes over real transports (in-memory or TCP)
// that know each other's addresses.
func clusterOf(t testing.TB, mk func(cfg *transport.Config) addrTransport, ids ...NodeID) []*Node {
	t.Helper()
	trs := make([]addrTransport, len(ids))
	nodes := make([]*Node, len(ids))
	for i, id := range ids {
		cfg := transport.DefaultLocalConfig()
		cfg.NodeID = id
		cfg.Incarnation = uint64(100 + i)
		cfg.Logger = testLogger(t)
		trs[i] = mk(&cfg)
		nodes[i] = newTestNode(t, "", trs[i]) // starts the transport
	}
	for i := range ids {
		for j, id := range ids {
			if i != j {
				trs[i].SetPeer(id, trs[j].Addr(), nodes[j].Incarnation())
			}
		}
	}
	return nodes
}

// addrTransport is a transport that reports its listen address once started.
type addrTransport interface {
	transport.Transport
	Addr() string
}

func inmemCluster(t testing.TB, net *transport.InmemNetwork, ids ...NodeID) []*Node {
	return clusterOf(t, func(cfg *transport.Config) addrTransport {
		tr, err := net.NewTransport(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}, ids...)
}

func TestInmemTransportSendMonitorPartition(t *testing.T) {
	net := transport.NewInmemNetwork(1)
	ns := inmemCluster(t, net, "a", "b")
	a, b := ns[0], ns[1]
	ctx := context.Background()

	pb := spawnProbe(t, b, WithName("svc"))
	watch := spawnProbe(t, a)
	if err := watch.p.Send(ctx, pb.pid, job{ID: 1}); err != nil {
		t.Fatal(err)
	}
	var j job
	if m := pb.next(t); m.Decode(&j) != nil || j.ID != 1 || m.From != watch.pid {
		t.Fatalf("got %+v from %s", j, m.From)
	}
	if err := a.Send(ctx, RemoteName{Node: "b", Name: "svc"}, "by name"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "by name" {
		t.Fatalf("got %v", m.Body)
	}

	target := spawnWaiter(t, b)
	if _, err := watch.p.Monitor(target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "monitor installed", func() error { return hasWatcher(b, target) })
	net.Partition([]NodeID{"a"}, []NodeID{"b"})
	if d := watch.down(t); !errors.Is(d.Reason, NoConnection) || d.PID != target {
		t.Fatalf("down %+v, want noconnection", d)
	}

	net.Heal()
	target2 := spawnWaiter(t, b)
	waitFor(t, "monitor over healed link", func() error {
		if _, err := watch.p.Monitor(target2); err != nil {
			return err
		}
		if err := hasWatcher(b, target2); err != nil {
			// The monitor may have failed with noconnection while the link
			// came back; drain that Down and retry.
			select {
			case <-watch.ch:
			default:
			}
			return err
		}
		return nil
	})
	_ = b.Exit(target2, errors.New("late"))
	if d := watch.down(t); d.Reason.Error() != "late" {
		t.Fatalf("down %+v", d)
	}
}

// BenchmarkRemoteSendTCP measures one-way remote sends over the TCP
// transport on loopback: Node.Send on node a to a process on node b that
// drains its mailbox. The clock stops when b has received all b.N messages,
// so ns/op is per message delivered end to end, and allocs/op counts both
// nodes (encode, TCP, decode, deliver). "registered": the message type is
// registered on both nodes (RegisterType) and arrives as itself;
// "unregistered": it arrives in the generic form. The message is
// job{ID: 42, Tags: []string{"bench"}}; decoding one on the receiver costs
// at least the job, its slice and its string.
func BenchmarkRemoteSendTCP(b *testing.B) {
	ns := clusterOf(b, func(cfg *transport.Config) addrTransport {
		tr, err := transport.NewTCPTransport(*cfg)
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}, "a", "b")
	na, nb := ns[0], ns[1]
	b.Run("unregistered", func(b *testing.B) {
		benchRemoteSend(b, na, nb, func(m Message) bool { _, ok := m.Body.(map[string]any); return ok })
	})
	b.Run("registered", func(b *testing.B) {
		for _, n := range ns {
			if err := RegisterType[job](n, "bench.job"); err != nil {
				b.Fatal(err)
			}
		}
		benchRemoteSend(b, na, nb, func(m Message) bool { _, ok := m.Body.(job); return ok })
	})
}

// benchRemoteSend sends b.N jobs from na to a process on nb; check says
// whether a received message has the expected form.
func benchRemoteSend(b *testing.B, na, nb *Node, check func(Message) bool) {
	got := make(chan error, 1)
	want := b.N
	pid, err := nb.Spawn(func(ctx context.Context, p *Process) error {
		for i := 0; i < want; i++ {
			m, err := p.Receive(ctx)
			if err != nil {
				got <- err
				return nil
			}
			if i == 0 && !check(m) {
				got <- fmt.Errorf("received a %T", m.Body)
				return nil
			}
		}
		got <- nil
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	msg := job{ID: 42, Tags: []string{"bench"}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := na.Send(ctx, pid, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-got; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	reportCPU(b, cpu0, float64(b.N), "cpu-ns/msg") // both nodes
}
