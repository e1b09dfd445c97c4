package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func testRing(t testing.TB, primary []byte, others ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(primary, others...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestStream(t testing.TB, id NodeID, ring *Keyring, tune func(*StreamConfig)) *AuthStream {
	t.Helper()
	cfg := StreamConfig{NodeID: id, Keyring: ring, HandshakeTimeout: time.Second, Logger: testLogger(t)}
	if tune != nil {
		tune(&cfg)
	}
	s, err := NewAuthStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listenStream(t testing.TB, s *AuthStream) *AuthListener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := s.Listen(inner)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// echoOnce accepts one connection and echoes what it reads.
func echoOnce(l *AuthListener) <-chan error {
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			errc <- err
			return
		}
		_, err = c.Write(buf)
		errc <- err
	}()
	return errc
}

func dialEcho(t *testing.T, s *AuthStream, addr string) error {
	t.Helper()
	c, err := s.Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "hello" {
		t.Fatalf("echo %q", buf)
	}
	return nil
}

func TestAuthStreamSameKey(t *testing.T) {
	l := listenStream(t, newTestStream(t, "a", testRing(t, testKey(1)), nil))
	errc := echoOnce(l)
	if err := dialEcho(t, newTestStream(t, "b", testRing(t, testKey(1)), nil), l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Accepted != 1 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAuthStreamRefusals(t *testing.T) {
	cases := []struct {
		name   string
		dialer *AuthStream
	}{
		{"wrong key", newTestStream(t, "b", testRing(t, testKey(2)), nil)},
		{"no key", newTestStream(t, "b", nil, nil)},
		{"wrong cluster", newTestStream(t, "b", testRing(t, testKey(1)), func(c *StreamConfig) { c.ClusterID = "other" })},
		{"our own id", newTestStream(t, "a", testRing(t, testKey(1)), nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := listenStream(t, newTestStream(t, "a", testRing(t, testKey(1)), nil))
			err := dialEcho(t, tc.dialer, l.Addr().String())
			if !errors.Is(err, ErrBadAuth) {
				t.Fatalf("dial: %v, want ErrBadAuth", err)
			}
			waitFor(t, 2*time.Second, func() error {
				if st := l.Stats(); st.Refused != 1 || st.Accepted != 0 {
					return errors.New("not refused yet")
				}
				return nil
			})
		})
	}
}

// TestAuthStreamRevealsNothing: a client without the key gets 32 random
// bytes and then the connection closes: no node id, cluster id or reason.
func TestAuthStreamRevealsNothing(t *testing.T) {
	l := listenStream(t, newTestStream(t, "secret-node-id", testRing(t, testKey(1)), func(c *StreamConfig) { c.ClusterID = "secret-cluster" }))
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	h := &streamHello{version: StreamVersion, node: "x", cluster: "secret-cluster", nonceD: make([]byte, 32), proof: make([]byte, 32)}
	if _, err := nc.Write(encodeStreamHello(h)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	if len(got) != streamNonceLen {
		t.Fatalf("acceptor sent %d bytes, want only its %d-byte nonce", len(got), streamNonceLen)
	}
	for _, s := range []string{"secret-node-id", "secret-cluster"} {
		if bytes.Contains(got, []byte(s)) {
			t.Fatalf("acceptor revealed %q", s)
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// TestAuthStreamKeyring: any installed key is accepted; the primary proves.
func TestAuthStreamKeyring(t *testing.T) {
	oldK, newK := testKey(1), testKey(2)
	acceptor := testRing(t, oldK, newK)
	l := listenStream(t, newTestStream(t, "a", acceptor, nil))
	for _, ring := range []*Keyring{testRing(t, oldK), testRing(t, newK), testRing(t, newK, oldK)} {
		errc := echoOnce(l)
		if err := dialEcho(t, newTestStream(t, "b", ring, nil), l.Addr().String()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if err := acceptor.Use(newK); err != nil {
		t.Fatal(err)
	}
	if err := acceptor.Remove(oldK); err != nil {
		t.Fatal(err)
	}
	if err := dialEcho(t, newTestStream(t, "b", testRing(t, oldK), nil), l.Addr().String()); !errors.Is(err, ErrBadAuth) {
		t.Fatalf("old key after removal: %v, want ErrBadAuth", err)
	}
}

func TestKeyringOps(t *testing.T) {
	k := testRing(t, testKey(1))
	if err := k.Install([]byte("short")); !errors.Is(err, ErrKeySize) {
		t.Fatalf("short key: %v", err)
	}
	if err := k.Use(testKey(9)); !errors.Is(err, ErrKeyNotInstalled) {
		t.Fatalf("use missing: %v", err)
	}
	if err := k.Remove(testKey(1)); !errors.Is(err, ErrRemovePrimary) {
		t.Fatalf("remove primary: %v", err)
	}
	_ = k.Install(testKey(2))
	_ = k.Install(testKey(2))
	if n := len(k.Keys()); n != 2 {
		t.Fatalf("%d keys after installing one twice", n)
	}
	_ = k.Use(testKey(2))
	if !bytes.Equal(k.Primary(), testKey(2)) || !bytes.Equal(k.Keys()[1], testKey(1)) {
		t.Fatal("Use did not make the key primary")
	}
	if KeyID(testKey(1)) == KeyID(testKey(2)) || len(KeyID(testKey(1))) != 11 {
		t.Fatal("key ids")
	}
}

// TestAuthStreamHandshakeLimits: a host holding its share of handshake
// slots with silent connections loses its oldest to each new one, a keyed
// peer from the same host still gets in at once while they sit there, and
// every silent client is closed by the handshake deadline.
func TestAuthStreamHandshakeLimits(t *testing.T) {
	ring := testRing(t, testKey(1))
	l := listenStream(t, newTestStream(t, "a", ring, func(c *StreamConfig) {
		c.HandshakeTimeout = time.Second
		c.MaxPendingPerHost = 4
		c.MaxPendingHandshakes = 8
	}))
	var idle []net.Conn
	for range 10 {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, nc)
		defer nc.Close()
	}
	waitFor(t, 2*time.Second, func() error {
		if st := l.Stats(); st.OverLimit < 6 {
			return errors.New("per-host limit not applied")
		}
		return nil
	})
	errc := echoOnce(l)
	if err := dialEcho(t, newTestStream(t, "b", ring, nil), l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for _, nc := range idle {
		_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(nc); err != nil && !isReset(err) {
			t.Fatalf("silent client still open: %v", err)
		}
	}
}

func TestAuthStreamPerPeerLimitAndIdle(t *testing.T) {
	ring := testRing(t, testKey(1))
	l := listenStream(t, newTestStream(t, "a", ring, func(c *StreamConfig) {
		c.MaxConnsPerPeer = 2
		c.IdleTimeout = 300 * time.Millisecond
	}))
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	d := newTestStream(t, "b", ring, nil)
	var conns []net.Conn
	for range 3 {
		c, err := d.Dial(context.Background(), l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	waitFor(t, 2*time.Second, func() error {
		if st := l.Stats(); st.OverLimit != 1 || st.Accepted != 2 {
			return errors.New("per-peer limit not applied")
		}
		return nil
	})
	// Another peer is not affected by b's limit.
	if _, err := newTestStream(t, "c", ring, nil).Dial(context.Background(), l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	// Idle authenticated connections are closed; their slots come back.
	waitFor(t, 3*time.Second, func() error {
		if st := l.Stats(); st.Open != 0 {
			return errors.New("idle connections still open")
		}
		return nil
	})
}

func TestAuthStreamMutualTLS(t *testing.T) {
	ca := newTestCA(t, "ca")
	dir := t.TempDir()
	tlsFor := func(name string, ca *testCA) func(*StreamConfig) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		caF, certF, keyF := ca.issue(t, d, name)
		tc, err := LoadTLSConfig(caF, certF, keyF)
		if err != nil {
			t.Fatal(err)
		}
		return func(c *StreamConfig) { c.TLS = tc }
	}
	ring := testRing(t, testKey(1))
	l := listenStream(t, newTestStream(t, "a", ring, tlsFor("a", ca)))
	errc := echoOnce(l)
	if err := dialEcho(t, newTestStream(t, "b", ring, tlsFor("b", ca)), l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, "other")
	if err := dialEcho(t, newTestStream(t, "c", ring, tlsFor("c", other)), l.Addr().String()); err == nil {
		t.Fatal("a certificate from another CA got in")
	}
	if err := dialEcho(t, newTestStream(t, "d", ring, nil), l.Addr().String()); err == nil {
		t.Fatal("a plain client got in")
	}
}

// TestAuthStreamCloseReleases: Close ends every goroutine and connection.
func TestAuthStreamCloseReleases(t *testing.T) {
	before := runtime.NumGoroutine()
	ring := testRing(t, testKey(1))
	inner, _ := net.Listen("tcp", "127.0.0.1:0")
	l := newTestStream(t, "a", ring, nil).Listen(inner)
	for range 5 {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	go func() { _, _ = newTestStream(t, "b", ring, nil).Dial(context.Background(), l.Addr().String()) }()
	time.Sleep(50 * time.Millisecond) // let the connections reach their handshakes (not a sync point: any state passes)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	waitFor(t, 3*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before+2 {
			return errors.New("goroutines left")
		}
		return nil
	})
}

// TestTransportKeyring: the transport handshake takes a proof by any key of
// the ring and proves with the primary.
func TestTransportKeyring(t *testing.T) {
	oldK, newK := testKey(1), testKey(2)
	mk := func(id NodeID, ring *Keyring) *TCPTransport {
		cfg := DefaultLocalConfig()
		cfg.NodeID, cfg.Incarnation, cfg.Keyring, cfg.Logger = id, 1, ring, testLogger(t)
		tr, err := NewTCPTransport(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr.SetHandler(newRecorder())
		if err := tr.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	a := mk("a", testRing(t, oldK, newK))
	call := func(from *TCPTransport) error {
		from.SetPeer("a", a.Addr(), 0)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := from.Call(ctx, "a", "echo", []byte("x"))
		return err
	}
	if err := call(mk("b", testRing(t, newK, oldK))); err != nil {
		t.Fatalf("new primary: %v", err)
	}
	if err := call(mk("c", testRing(t, oldK))); err != nil {
		t.Fatalf("old primary: %v", err)
	}
	if err := call(mk("d", testRing(t, testKey(3)))); !errors.Is(err, ErrBadAuth) {
		t.Fatalf("foreign key: %v, want ErrBadAuth", err)
	}
}
