package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// testTransport is what the conformance suite needs beyond Transport.
type testTransport interface {
	Transport
	Addr() string
	TrySend(peer NodeID, env *Envelope) error
}

// harness builds transports of one implementation for a test.
type harness interface {
	// make starts a transport for cfg with handler h; it is closed at the
	// end of the test.
	make(t *testing.T, cfg *Config, h Handler) testTransport
}

type tcpHarness struct{}

func (tcpHarness) make(t *testing.T, cfg *Config, h Handler) testTransport {
	t.Helper()
	tr, err := NewTCPTransport(*cfg)
	if err != nil {
		t.Fatalf("NewTCPTransport: %v", err)
	}
	tr.SetHandler(h)
	if err := tr.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

type inmemHarness struct{ net *InmemNetwork }

func (ih inmemHarness) make(t *testing.T, cfg *Config, h Handler) testTransport {
	t.Helper()
	tr, err := ih.net.NewTransport(*cfg)
	if err != nil {
		t.Fatalf("NewTransport: %v", err)
	}
	tr.SetHandler(h)
	if err := tr.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// testConfig returns a fast config for node id.
func testConfig(t testing.TB, id NodeID, inc uint64) *Config {
	cfg := DefaultLocalConfig()
	cfg.NodeID, cfg.Incarnation = id, inc
	cfg.ClusterID = "test"
	cfg.ClusterKey = []byte("0123456789abcdef0123456789abcdef")
	cfg.Logger = testLogger(t)
	return &cfg
}

// TestConformance runs one suite against both implementations.
func TestConformance(t *testing.T) {
	impls := map[string]func() harness{
		"tcp":   func() harness { return tcpHarness{} },
		"inmem": func() harness { return inmemHarness{net: NewInmemNetwork(1)} },
	}
	tests := map[string]func(*testing.T, harness){
		"SendOrderAndFields":  testSendOrderAndFields,
		"PeerUpBothSides":     testPeerUpBothSides,
		"CallEchoAndErrors":   testCallEchoAndErrors,
		"CallDeadlineCancel":  testCallDeadlineCancel,
		"Misuse":              testMisuse,
		"WrongClusterRefused": testWrongClusterRefused,
		"WrongKeyRefused":     testWrongKeyRefused,
		"PeerCloseFailsCalls": testPeerCloseFailsCalls,
		"RemovePeer":          testRemovePeer,
		"NewIncarnation":      testNewIncarnation,
		"TrySendQueueFull":    testTrySendQueueFull,
	}
	for name, mk := range impls {
		t.Run(name, func(t *testing.T) {
			for tn, f := range tests {
				t.Run(tn, func(t *testing.T) { f(t, mk()) })
			}
		})
	}
}

// pair starts nodes a and b that know each other's address.
func pair(t *testing.T, h harness) (a, b testTransport, ra, rb *recorder) {
	ra, rb = newRecorder(), newRecorder()
	a = h.make(t, testConfig(t, "a", 11), ra)
	b = h.make(t, testConfig(t, "b", 22), rb)
	a.SetPeer("b", b.Addr(), 22)
	b.SetPeer("a", a.Addr(), 11)
	return a, b, ra, rb
}

func testSendOrderAndFields(t *testing.T, h harness) {
	a, _, _, rb := pair(t, h)
	ctx := context.Background()
	const n = 2000
	for i := 1; i <= n; i++ {
		env := &Envelope{Kind: KindMessage, From: PID{"a", 11, 1}, To: PID{"b", 22, 7},
			Ref: uint64(i), Body: []byte(fmt.Sprintf("msg-%d", i))}
		if err := a.Send(ctx, "b", env); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	full := &Envelope{Kind: KindDown, From: PID{"a", 11, 3}, To: PID{"b", 22, 9}, ToName: "worker",
		Ref: 99, Reason: Reason{Code: "error", Message: "bad thing"}, GlobalName: "leader", Fence: 1234,
		Body: bytes.Repeat([]byte{0xc1}, 3000)}
	if err := a.Send(ctx, "b", full); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if got := len(rb.envelopes()); got != n+1 {
			return fmt.Errorf("received %d of %d", got, n+1)
		}
		return nil
	})
	envs := rb.envelopes()
	for i, env := range envs[:n] {
		if env.Ref != uint64(i+1) || string(env.Body) != fmt.Sprintf("msg-%d", i+1) {
			t.Fatalf("envelope %d out of order or corrupt: ref %d body %q", i, env.Ref, env.Body)
		}
	}
	if !reflect.DeepEqual(envs[n], full) {
		t.Fatalf("full envelope changed in transit:\n got %+v\nwant %+v", envs[n], full)
	}
}

func testPeerUpBothSides(t *testing.T, h harness) {
	a, _, ra, rb := pair(t, h)
	if _, err := a.Call(context.Background(), "b", "echo", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if err := ra.hasEvent("up b 22"); err != nil {
			return err
		}
		return rb.hasEvent("up a 11")
	})
}

func testCallEchoAndErrors(t *testing.T, h harness) {
	a, b, _, _ := pair(t, h)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 100_000)
	got, err := a.Call(ctx, "b", "echo", big)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	got, err = b.Call(ctx, "a", "whoami", nil)
	if err != nil || string(got) != "b" {
		t.Fatalf("whoami from b: %q, %v", got, err)
	}
	_, err = a.Call(ctx, "b", "fail", []byte("x"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "boom: x" {
		t.Fatalf("fail: want *RemoteError boom: x, got %v", err)
	}
}

func testCallDeadlineCancel(t *testing.T, h harness) {
	a, _, _, rb := pair(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := a.Call(ctx, "b", "block", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	rb.mu.Lock()
	dl := append([]time.Duration(nil), rb.deadlines...)
	rb.mu.Unlock()
	if len(dl) != 1 || dl[0] > 200*time.Millisecond {
		t.Fatalf("handler deadlines %v, want one within the caller's 200ms", dl)
	}
	// Explicit cancellation reaches the handler.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Call(ctx2, "b", "block", nil)
		done <- err
	}()
	waitFor(t, 5*time.Second, func() error {
		if rb.blockedCount() < 2 {
			return errors.New("second request not started")
		}
		return nil
	})
	before := rb.cancelCount()
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	waitFor(t, 5*time.Second, func() error {
		if rb.cancelCount() < before+1 {
			return fmt.Errorf("handler saw %d cancellations", rb.cancelCount())
		}
		return nil
	})
}

func testMisuse(t *testing.T, h harness) {
	a, _, _, _ := pair(t, h)
	ctx := context.Background()
	if err := a.Send(ctx, "nobody", &Envelope{Kind: KindMessage}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
	huge := &Envelope{Kind: KindMessage, Body: make([]byte, DefaultMaxFrameSize+1)}
	if err := a.Send(ctx, "b", huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge: %v", err)
	}
	if _, err := a.Call(ctx, "b", "echo", huge.Body); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge call: %v", err)
	}
	_ = a.Close()
	_ = a.Close()
	if err := a.Send(ctx, "b", &Envelope{Kind: KindMessage}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := a.Call(ctx, "b", "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after close: %v", err)
	}
}

// callErr calls until the error is not nil... the first dial's failure is
// what we check.
func refusedWith(t *testing.T, a testTransport, want error) {
	t.Helper()
	_, err := a.Call(context.Background(), "b", "echo", nil)
	var pe *PeerError
	if !errors.As(err, &pe) || !errors.Is(err, want) || !errors.Is(err, ErrHandshake) {
		t.Fatalf("want *PeerError wrapping %v, got %v", want, err)
	}
}

func testWrongClusterRefused(t *testing.T, h harness) {
	ra, rb := newRecorder(), newRecorder()
	a := h.make(t, testConfig(t, "a", 11), ra)
	cb := testConfig(t, "b", 22)
	cb.ClusterID = "other"
	b := h.make(t, cb, rb)
	a.SetPeer("b", b.Addr(), 0)
	refusedWith(t, a, ErrWrongCluster)
	if len(rb.eventList()) != 0 || len(ra.eventList()) != 0 {
		t.Fatalf("refused peers must not come up: %v %v", ra.eventList(), rb.eventList())
	}
}

func testWrongKeyRefused(t *testing.T, h harness) {
	a := h.make(t, testConfig(t, "a", 11), newRecorder())
	cb := testConfig(t, "b", 22)
	cb.ClusterKey = []byte("another key, same length as ours")
	b := h.make(t, cb, newRecorder())
	a.SetPeer("b", b.Addr(), 0)
	refusedWith(t, a, ErrBadAuth)
	// A node without any key cannot join a keyed cluster either.
	cc := testConfig(t, "c", 33)
	cc.ClusterKey = nil
	c := h.make(t, cc, newRecorder())
	c.SetPeer("a", a.Addr(), 0)
	_, err := c.Call(context.Background(), "a", "echo", nil)
	if !errors.Is(err, ErrBadAuth) {
		t.Fatalf("keyless node: want ErrBadAuth, got %v", err)
	}
}

func testPeerCloseFailsCalls(t *testing.T, h harness) {
	a, b, ra, _ := pair(t, h)
	done := make(chan error, 1)
	go func() {
		_, err := a.Call(context.Background(), "b", "block", nil)
		done <- err
	}()
	waitFor(t, 5*time.Second, func() error { return ra.hasEvent("up b 22") })
	_ = b.Close()
	select {
	case err := <-done:
		var pe *PeerError
		if !errors.As(err, &pe) || pe.Peer != "b" {
			t.Fatalf("want *PeerError for b, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending call did not fail when the peer closed")
	}
	waitFor(t, 5*time.Second, func() error { return ra.hasEvent("down b 22") })
}

func testRemovePeer(t *testing.T, h harness) {
	a, _, ra, rb := pair(t, h)
	if _, err := a.Call(context.Background(), "b", "echo", nil); err != nil {
		t.Fatal(err)
	}
	a.RemovePeer("b")
	waitFor(t, 5*time.Second, func() error {
		if err := ra.hasEvent("down b 22"); err != nil {
			return err
		}
		return rb.hasEvent("down a 11")
	})
	if !errors.Is(ra.lastCause(), ErrPeerRemoved) {
		t.Fatalf("cause %v, want ErrPeerRemoved", ra.lastCause())
	}
	if err := a.Send(context.Background(), "b", &Envelope{Kind: KindMessage}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send after remove: %v", err)
	}
}

func testNewIncarnation(t *testing.T, h harness) {
	a, b, ra, _ := pair(t, h)
	if _, err := a.Call(context.Background(), "b", "echo", nil); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	b2 := h.make(t, testConfig(t, "b", 23), newRecorder())
	a.SetPeer("b", b2.Addr(), 23)
	waitFor(t, 5*time.Second, func() error {
		_, err := a.Call(context.Background(), "b", "whoami", nil)
		return err
	})
	want := []string{"up b 22", "down b 22", "up b 23"}
	waitFor(t, 5*time.Second, func() error {
		if got := ra.eventList(); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("events %v, want %v", got, want)
		}
		return nil
	})
}

func testTrySendQueueFull(t *testing.T, h harness) {
	ra, rb := newRecorder(), newRecorder()
	ca := testConfig(t, "a", 11)
	ca.QueueSize = 4
	a := h.make(t, ca, ra)
	block := make(chan struct{})
	rb.onEnv = func(*Envelope) { <-block }
	b := h.make(t, testConfig(t, "b", 22), rb)
	defer close(block)
	a.SetPeer("b", b.Addr(), 0)
	body := make([]byte, 64<<10)
	var full error
	for i := 0; i < 10000 && full == nil; i++ {
		full = a.TrySend("b", &Envelope{Kind: KindMessage, Body: body})
	}
	if !errors.Is(full, ErrQueueFull) {
		t.Fatalf("want ErrQueueFull once the receiver stalls, got %v", full)
	}
	// Send blocks once the queue (and, for TCP, the socket buffers) fill.
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err = a.Send(ctx, "b", &Envelope{Kind: KindMessage, Body: body})
		cancel()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocking Send on a full queue: want DeadlineExceeded, got %v", err)
	}
}
