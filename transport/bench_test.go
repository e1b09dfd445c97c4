package transport

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vmihailenco/msgpack/v5"
)

// countHandler counts envelopes and echoes requests; nothing else.
type countHandler struct{ n atomic.Int64 }

func (h *countHandler) HandleEnvelope(NodeID, *Envelope) { h.n.Add(1) }
func (h *countHandler) HandleRequest(_ context.Context, _ NodeID, _ string, b []byte) ([]byte, error) {
	return b, nil
}
func (h *countHandler) PeerUp(NodeID, uint64)          {}
func (h *countHandler) PeerDown(NodeID, uint64, error) {}

// benchPair connects two TCP transports over loopback.
func benchPair(b *testing.B) (*TCPTransport, *countHandler) {
	b.Helper()
	mk := func(id NodeID, inc uint64, h Handler) *TCPTransport {
		cfg := DefaultLocalConfig()
		cfg.NodeID, cfg.Incarnation = id, inc
		cfg.Logger = hclog.NewNullLogger()
		if qb := os.Getenv("QB"); qb != "" {
			cfg.QueueBytes, _ = strconv.Atoi(qb)
		}
		tr, err := NewTCPTransport(cfg)
		if err != nil {
			b.Fatal(err)
		}
		tr.SetHandler(h)
		if err := tr.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	recv := &countHandler{}
	a := mk("a", 1, &countHandler{})
	r := mk("b", 2, recv)
	a.SetPeer("b", r.Addr(), 0)
	if _, err := a.Call(context.Background(), "b", "warmup", nil); err != nil {
		b.Fatal(err)
	}
	return a, recv
}

func benchSend(b *testing.B, size int) {
	a, recv := benchPair(b)
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 1}, To: PID{"b", 2, 1}, Body: make([]byte, size)}
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := a.Send(ctx, "b", env); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, 30*time.Second, func() error {
		if got := recv.n.Load(); got < int64(b.N) {
			return fmt.Errorf("%d of %d delivered", got, b.N)
		}
		return nil
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
}

// cpuTime is this process's user+system CPU time: per-message CPU cost is
// a figure that other load on the machine does not distort much, unlike
// wall-clock throughput.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSend64 is one-way throughput of 64-byte messages, one sender to
// one receiver, including decode and delivery to the handler.
func BenchmarkSend64(b *testing.B) { benchSend(b, 64) }

// BenchmarkSend4K is one-way throughput of 4 KiB messages.
func BenchmarkSend4K(b *testing.B) { benchSend(b, 4096) }

// BenchmarkCall32 is RPC round trips from 32 concurrent callers.
func BenchmarkCall32(b *testing.B) {
	a, _ := benchPair(b)
	body := make([]byte, 64)
	const callers = 32
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := a.Call(context.Background(), "b", "echo", body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/call")
}

// BenchmarkCallLatency offers 10,000 calls/s for one second (each call on
// its own goroutine, so a slow call does not delay the next) and reports
// the p50 and p99 round-trip latency.
func BenchmarkCallLatency(b *testing.B) {
	a, _ := benchPair(b)
	body := make([]byte, 64)
	const rate, total = 10_000, 10_000
	for i := 0; i < b.N; i++ {
		lat := make([]time.Duration, total)
		var wg sync.WaitGroup
		start := time.Now()
		for j := 0; j < total; j++ {
			if d := time.Until(start.Add(time.Duration(j) * time.Second / rate)); d > 0 {
				time.Sleep(d) // pacing the offered load
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if _, err := a.Call(context.Background(), "b", "echo", body); err != nil {
					b.Error(err)
				}
				lat[j] = time.Since(t0)
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		p50, p99 := lat[total/2], lat[total*99/100]
		b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
		if i == 0 {
			fmt.Printf("BenchmarkCallLatency: offered %d/s: p50 %v p99 %v max %v\n", rate, p50, p99, lat[total-1])
		}
	}
}

// BenchmarkEncodeEnvelope is the send path's per-message codec cost.
func BenchmarkEncodeEnvelope(b *testing.B) {
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 2}, To: PID{"b", 3, 4}, Body: make([]byte, 64)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = appendEnvelope(buf[:0], env, DefaultMaxFrameSize)
	}
}

// BenchmarkDecodeEnvelope is the receive path's per-message codec cost
// (the Envelope and its body are the two allocations).
func BenchmarkDecodeEnvelope(b *testing.B) {
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 2}, To: PID{"b", 3, 4}, Body: make([]byte, 64)}
	frame, _ := appendEnvelope(nil, env, DefaultMaxFrameSize)
	_, body, _, _ := splitFrame(frame, DefaultMaxFrameSize)
	in := &interner{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := decodeEnvelope(body, new(Envelope), in, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvelopeLibrary is the same round trip through
// vmihailenco/msgpack's reflection codec, for comparison with the
// hand-written one above.
func BenchmarkEnvelopeLibrary(b *testing.B) {
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 2}, To: PID{"b", 3, 4}, Body: make([]byte, 64)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data, err := msgpack.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		var got Envelope
		if err := msgpack.Unmarshal(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}
