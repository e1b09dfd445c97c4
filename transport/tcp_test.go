package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startTCP starts a TCP transport for cfg with a recorder.
func startTCP(t *testing.T, cfg *Config) (*TCPTransport, *recorder) {
	t.Helper()
	r := newRecorder()
	return tcpHarness{}.make(t, cfg, r).(*TCPTransport), r
}

// rawPeer opens a raw connection to tr, optionally completing the
// handshake as node "evil", to send hand-made frames.
func rawPeer(t *testing.T, tr *TCPTransport, handshake bool) net.Conn {
	t.Helper()
	return rawPeerInc(t, tr, handshake, 666)
}

func rawPeerInc(t *testing.T, tr *TCPTransport, handshake bool, inc uint64) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if handshake {
		cfg := testConfig(t, "evil", inc)
		cfg.ClusterKey = tr.cfg.ClusterKey
		if _, err := dialHandshake(cfg, &handshakeIO{w: nc, fr: newFrameReader(nc, 1<<20)}, tr.cfg.NodeID, 0, uint64(time.Now().UnixNano())); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	}
	return nc
}

// expectClosed waits for the server to close nc.
func expectClosed(t *testing.T, nc net.Conn, within time.Duration) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue // refusal frames
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server did not close the connection within %v", within)
		}
		return
	}
}

// TestBadInputClosesOnlyThatConnection sends malformed traffic on raw
// connections; each is closed, and a well-behaved peer keeps working.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	cfg := testConfig(t, "srv", 1)
	cfg.HandshakeTimeout = 200 * time.Millisecond
	cfg.MaxInflightRequests = 4
	srv, rs := startTCP(t, cfg)
	good, _ := startTCP(t, testConfig(t, "good", 2))
	good.SetPeer("srv", srv.Addr(), 0)

	block, _ := appendRequest(nil, &requestMsg{ID: 1, Method: "block"}, 1<<20)
	flood := []byte{}
	for i := uint64(1); i <= 20; i++ {
		flood, _ = appendRequest(flood, &requestMsg{ID: i, Method: "block"}, 1<<20)
	}
	cases := []struct {
		name      string
		handshake bool
		send      []byte
	}{
		{"slowloris (silent)", false, nil},
		{"slowloris (half a hello)", false, []byte{0, 0, 0, 40, 1, 0x85}},
		{"garbage before hello", false, []byte("GET / HTTP/1.1\r\n\r\n")},
		{"oversize length prefix", true, []byte{0x7f, 0xff, 0xff, 0xff, 5}},
		{"unknown frame type", true, []byte{0, 0, 0, 2, 200, 0x80}},
		{"garbage msgpack", true, []byte{0, 0, 0, 4, byte(frameEnvelope), 0x81, 0xa1, 'k'}},
		{"response on inbound", true, []byte{0, 0, 0, 4, byte(frameResponse), 0x81, 0xa1, 'i', 1}},
		{"hello after handshake", true, []byte{0, 0, 0, 2, byte(frameHello), 0x80}},
		{"duplicate request id", true, append(append([]byte{}, block...), block...)},
		{"request flood", true, flood},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nc := rawPeer(t, srv, c.handshake)
			if _, err := nc.Write(c.send); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, nc, 3*time.Second)
			got, err := good.Call(context.Background(), "srv", "whoami", nil)
			if err != nil || string(got) != "good" {
				t.Fatalf("good peer affected: %q %v", got, err)
			}
		})
	}
	// The evil peer came up and went down each time it got through the
	// handshake; the good one stayed up throughout.
	waitFor(t, 5*time.Second, func() error { return rs.hasEvent("down evil 666") })
	for _, ev := range rs.eventList() {
		if ev == "down good 2" {
			t.Fatalf("good peer went down: %v", rs.eventList())
		}
	}
}

// TestTruncatedFrameIsConnectionLoss: a peer that dies mid-frame is just
// a lost connection.
func TestTruncatedFrameIsConnectionLoss(t *testing.T) {
	srv, rs := startTCP(t, testConfig(t, "srv", 1))
	nc := rawPeer(t, srv, true)
	waitFor(t, 5*time.Second, func() error { return rs.hasEvent("up evil 666") })
	_, _ = nc.Write([]byte{0, 0, 1, 0, byte(frameEnvelope), 0x81})
	_ = nc.Close()
	waitFor(t, 5*time.Second, func() error { return rs.hasEvent("down evil 666") })
	if !errors.Is(rs.lastCause(), io.ErrUnexpectedEOF) || !errors.Is(rs.lastCause(), ErrConnLost) {
		t.Fatalf("cause %v, want ErrConnLost wrapping ErrUnexpectedEOF", rs.lastCause())
	}
}

// fakeClock is a settable clock for the redial backoff.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeClock() *fakeClock               { c := &fakeClock{}; c.ns.Store(1e18); return c }

// TestRedialWithBackoff: dial failures fail fast during the backoff (on a
// fake clock, so the test does not depend on timing), and the transport
// reconnects once dialling works again.
func TestRedialWithBackoff(t *testing.T) {
	srv, _ := startTCP(t, testConfig(t, "srv", 1))
	var failing atomic.Bool
	var dials atomic.Int32
	failing.Store(true)
	cfg := testConfig(t, "cli", 2)
	cfg.RedialMin, cfg.RedialMax = time.Second, time.Minute
	cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		if failing.Load() {
			return nil, errors.New("injected dial failure")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	cli, _ := startTCP(t, cfg)
	clock := newFakeClock()
	cli.now = clock.now // before SetPeer starts the writer
	cli.SetPeer("srv", srv.Addr(), 1)
	_, err := cli.Call(context.Background(), "srv", "echo", nil)
	var pe *PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("want *PeerError while dialling fails, got %v", err)
	}
	failing.Store(false)
	// During the backoff calls fail without dialling.
	n := dials.Load()
	for i := 0; i < 3; i++ {
		if _, err := cli.Call(context.Background(), "srv", "echo", nil); !errors.As(err, &pe) {
			t.Fatalf("want a fast *PeerError during the backoff, got %v", err)
		}
		clock.advance(100 * time.Millisecond) // the first backoff is 500ms..1s (jitter)
	}
	if dials.Load() != n {
		t.Fatalf("dialled %d times during the backoff", dials.Load()-n)
	}
	clock.advance(time.Second)
	if _, err := cli.Call(context.Background(), "srv", "echo", nil); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
}

// TestWrongIdentityRefused: the node at an address must be the one
// expected there.
func TestWrongIdentityRefused(t *testing.T) {
	srv, _ := startTCP(t, testConfig(t, "srv", 1))
	cli, _ := startTCP(t, testConfig(t, "cli", 2))
	cli.SetPeer("other", srv.Addr(), 0)
	if _, err := cli.Call(context.Background(), "other", "echo", nil); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("want ErrWrongPeer, got %v", err)
	}
	cli.SetPeer("srv", srv.Addr(), 99)
	if _, err := cli.Call(context.Background(), "srv", "echo", nil); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("wrong incarnation: want ErrWrongPeer, got %v", err)
	}
}

// TestBothDirectionsKeepOrder: when both nodes dial each other there are
// two connections; each side sends on its own, so order holds both ways.
func TestBothDirectionsKeepOrder(t *testing.T) {
	a, ra := startTCP(t, testConfig(t, "a", 1))
	b, rb := startTCP(t, testConfig(t, "b", 2))
	a.SetPeer("b", b.Addr(), 0)
	b.SetPeer("a", a.Addr(), 0)
	const n = 500
	errs := make(chan error, 2)
	send := func(tr *TCPTransport, to NodeID) {
		for i := 1; i <= n; i++ {
			if err := tr.Send(context.Background(), to, &Envelope{Kind: KindMessage, Ref: uint64(i)}); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}
	go send(a, "b")
	go send(b, "a")
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*recorder{ra, rb} {
		waitFor(t, 5*time.Second, func() error {
			if len(r.envelopes()) != n {
				return fmt.Errorf("%d of %d", len(r.envelopes()), n)
			}
			return nil
		})
		for i, env := range r.envelopes() {
			if env.Ref != uint64(i+1) {
				t.Fatalf("out of order at %d: %d", i, env.Ref)
			}
		}
	}
	waitFor(t, 5*time.Second, func() error { return ra.hasEvent("up b 2") })
	if ev := ra.eventList(); len(ev) != 1 {
		t.Fatalf("two connections must still be one PeerUp: %v", ev)
	}
}

// TestIncarnationChangeWhileConnected: a peer that reconnects with a new
// incarnation while its old connection still looks open is reported down
// (old) then up (new), and the old connection is closed.
func TestIncarnationChangeWhileConnected(t *testing.T) {
	srv, rs := startTCP(t, testConfig(t, "srv", 1))
	old := rawPeerInc(t, srv, true, 100)
	waitFor(t, 5*time.Second, func() error { return rs.hasEvent("up evil 100") })
	rawPeerInc(t, srv, true, 101)
	waitFor(t, 5*time.Second, func() error { return rs.hasEvent("up evil 101") })
	if got, want := rs.eventList(), []string{"up evil 100", "down evil 100", "up evil 101"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if !errors.Is(rs.lastCause(), ErrIncarnationChanged) {
		t.Fatalf("cause %v", rs.lastCause())
	}
	expectClosed(t, old, 3*time.Second)
}

// killableDialer records outbound connections so a test can break them.
type killableDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (k *killableDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err == nil {
		k.mu.Lock()
		k.conns = append(k.conns, nc)
		k.mu.Unlock()
	}
	return nc, err
}

func (k *killableDialer) killAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, nc := range k.conns {
		_ = nc.Close()
	}
	k.conns = nil
}

// TestOrderAndNoDuplicatesUnderConnectionKills sends a numbered stream
// while the connection is killed at random (seeded) moments: messages may
// be lost, but those delivered are in order and none twice.
func TestOrderAndNoDuplicatesUnderConnectionKills(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	srv, rs := startTCP(t, testConfig(t, "srv", 1))
	kd := &killableDialer{}
	cfg := testConfig(t, "cli", 2)
	cfg.Dialer = kd.dial
	cfg.RedialMin, cfg.RedialMax = time.Millisecond, 2*time.Millisecond
	cli, _ := startTCP(t, cfg)
	cli.SetPeer("srv", srv.Addr(), 0)
	const n = 20000
	sent := 0
	for i := 1; i <= n; i++ {
		if rng.IntN(1000) == 0 {
			kd.killAll()
		}
		if cli.Send(context.Background(), "srv", &Envelope{Kind: KindMessage, Ref: uint64(i)}) == nil {
			sent++
		}
	}
	// A final marker, retried until the link is up, bounds the wait.
	waitFor(t, 10*time.Second, func() error {
		if err := cli.Send(context.Background(), "srv", &Envelope{Kind: KindMessage, Ref: n + 1}); err != nil {
			return err
		}
		envs := rs.envelopes()
		if len(envs) == 0 || envs[len(envs)-1].Ref != n+1 {
			return errors.New("marker not delivered yet")
		}
		return nil
	})
	envs := rs.envelopes()
	var last uint64
	for _, e := range envs {
		if e.Ref == n+1 {
			continue // markers may repeat: each was a separate send
		}
		if e.Ref <= last {
			t.Fatalf("seed %d: ref %d after %d: reordered or duplicated", seed, e.Ref, last)
		}
		last = e.Ref
	}
	t.Logf("sent %d accepted, %d delivered", sent, len(envs))
}

// TestListenerHook: a caller-supplied listener is used and closed.
func TestListenerHook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "srv", 1)
	cfg.Listener = ln
	srv, _ := startTCP(t, cfg)
	if srv.Addr() != ln.Addr().String() {
		t.Fatalf("Addr %s, listener %s", srv.Addr(), ln.Addr())
	}
	cli, _ := startTCP(t, testConfig(t, "cli", 2))
	cli.SetPeer("srv", srv.Addr(), 0)
	if _, err := cli.Call(context.Background(), "srv", "echo", nil); err != nil {
		t.Fatal(err)
	}
	_ = srv.Close()
	if _, err := ln.Accept(); err == nil {
		t.Fatal("listener still open after Close")
	}
}

// TestVersionMismatchRefused: a hello with another protocol version is
// refused with a reason the dialer can match.
func TestVersionMismatchRefused(t *testing.T) {
	srv, rs := startTCP(t, testConfig(t, "srv", 1))
	nc := rawPeer(t, srv, false)
	h := &handshakeIO{w: nc, fr: newFrameReader(nc, 1<<20)}
	hello := newHello(testConfig(t, "future", 5))
	hello.Version = ProtocolVersion + 1
	if err := h.send(frameHello, hello); err != nil {
		t.Fatal(err)
	}
	var reply helloMsg
	err := h.recv(frameHello, &reply)
	if !errors.Is(err, ErrVersionMismatch) || !errors.Is(err, ErrHandshake) {
		t.Fatalf("want ErrVersionMismatch, got %v", err)
	}
	expectClosed(t, nc, 3*time.Second)
	if len(rs.eventList()) != 0 {
		t.Fatalf("refused peer came up: %v", rs.eventList())
	}
}

// TestStalledReaderHitsWriteTimeout: a peer that completes the handshake
// and then never reads has its connection closed after WriteTimeout.
func TestStalledReaderHitsWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	stalled := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		cfg := testConfig(t, "stalled", 9)
		if _, err := acceptHandshake(cfg, &handshakeIO{w: nc, fr: newFrameReader(nc, 1<<20)}); err != nil {
			_ = nc.Close()
			return
		}
		stalled <- nc // and never read again
	}()
	cfg := testConfig(t, "cli", 2)
	cfg.WriteTimeout = 100 * time.Millisecond
	cli, rc := startTCP(t, cfg)
	cli.SetPeer("stalled", ln.Addr().String(), 0)
	body := make([]byte, 64<<10)
	waitFor(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = cli.Send(ctx, "stalled", &Envelope{Kind: KindMessage, Body: body})
		return rc.hasEvent("down stalled 9")
	})
	if !errors.Is(rc.lastCause(), os.ErrDeadlineExceeded) {
		t.Fatalf("cause %v, want a write deadline", rc.lastCause())
	}
	select {
	case nc := <-stalled:
		_ = nc.Close()
	default:
	}
}
