package node

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/transport"
)

// benchEchoServer spawns a process on n that answers calls with their body
// and echoes plain messages back to their sender.
func benchEchoServer(b *testing.B, n *Node) PID {
	b.Helper()
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if m.IsCall() {
				err = p.Reply(ctx, m.ReplyTo(), m.Body)
			} else {
				err = p.Send(ctx, m.From, m.Body)
			}
			if err != nil {
				return nil
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// runInProcess runs body b.N times inside a process of n and waits.
func runInProcess(b *testing.B, n *Node, body func(ctx context.Context, p *Process) error) {
	b.Helper()
	result := make(chan error, 1)
	start := make(chan struct{})
	if _, err := n.Spawn(func(ctx context.Context, p *Process) error {
		<-start
		for i := 0; i < b.N; i++ {
			if err := body(ctx, p); err != nil {
				result <- err
				return nil
			}
		}
		result <- nil
		return nil
	}); err != nil {
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

// BenchmarkCallLocal measures a local Call round trip (request, reply, the
// call's monitor set and removed), from a process and from plain Go code.
// Compare with BenchmarkSendReceiveRoundTrip (a Send and a Receive each
// way); the goal is <= 2 µs from a process.
func BenchmarkCallLocal(b *testing.B) {
	b.Run("process", func(b *testing.B) {
		n := benchNode(b)
		srv := benchEchoServer(b, n)
		runInProcess(b, n, func(ctx context.Context, p *Process) error {
			_, err := p.Call(ctx, srv, 1)
			return err
		})
	})
	b.Run("plain", func(b *testing.B) {
		n := benchNode(b)
		srv := benchEchoServer(b, n)
		ctx := context.Background()
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			if _, err := n.Call(ctx, srv, 1); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu0, float64(b.N), "cpu-ns/op")
	})
	b.Run("by-name", func(b *testing.B) {
		n := benchNode(b)
		srv := benchEchoServer(b, n)
		if err := n.Register("srv", srv); err != nil {
			b.Fatal(err)
		}
		runInProcess(b, n, func(ctx context.Context, p *Process) error {
			_, err := p.Call(ctx, Name("srv"), 1)
			return err
		})
	})
}

// BenchmarkCallRemoteTCP compares, between two nodes over loopback TCP, a
// remote Call round trip with a remote Send plus the echoed message's
// Receive (the same two messages without a call's alias and monitor). The
// goal: call within 1.3x of send+receive.
func BenchmarkCallRemoteTCP(b *testing.B) {
	ns := clusterOf(b, func(cfg *transport.Config) addrTransport {
		tr, err := transport.NewTCPTransport(*cfg)
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}, "a", "b")
	na, nb := ns[0], ns[1]
	srv := benchEchoServer(b, nb)
	msg := job{ID: 42, Tags: []string{"bench"}}
	b.Run("send-receive", func(b *testing.B) {
		runInProcess(b, na, func(ctx context.Context, p *Process) error {
			if err := p.Send(ctx, srv, msg); err != nil {
				return err
			}
			_, err := p.Receive(ctx)
			return err
		})
	})
	b.Run("call", func(b *testing.B) {
		runInProcess(b, na, func(ctx context.Context, p *Process) error {
			_, err := p.Call(ctx, srv, msg)
			return err
		})
	})
}
