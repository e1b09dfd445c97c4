package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails Accept with EMFILE while failing is set.
type flakyListener struct {
	net.Listener
	failing atomic.Bool
	fails   atomic.Int64
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for l.failing.Load() {
		l.fails.Add(1)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestAcceptBacksOffAndRecovers: EMFILE from Accept does not end the
// accept loop; Health reports it while it lasts, the loop backs off (no
// busy loop), and once Accept works again peers connect and Health clears.
func TestAcceptBacksOffAndRecovers(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner}
	ln.failing.Store(true)
	cfg := testConfig(t, "srv", 1)
	cfg.Listener = ln
	srv, rs := startTCP(t, cfg)
	waitFor(t, 5*time.Second, func() error {
		if err := srv.Health(); !errors.Is(err, ErrNotAccepting) || !errors.Is(err, syscall.EMFILE) {
			return fmt.Errorf("health %v, want ErrNotAccepting wrapping EMFILE", err)
		}
		return nil
	})
	// 5ms doubling: the 6th failed Accept comes at least 5+10+20+40+80 ms
	// after the first; without backoff it would come at once.
	start := time.Now()
	from := ln.fails.Load()
	waitFor(t, 5*time.Second, func() error {
		if n := ln.fails.Load() - from; n < 6 {
			return fmt.Errorf("%d more failed Accepts, want 6", n)
		}
		return nil
	})
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("6 failed Accepts within %v: no backoff", d)
	}
	if st := srv.Stats(); st.AcceptErrors == 0 {
		t.Fatalf("stats %+v: accept errors not counted", st)
	}
	ln.failing.Store(false)
	// Healthy again once Accept stops failing, even with nobody connecting.
	waitFor(t, 5*time.Second, srv.Health)
	cli, _ := startTCP(t, testConfig(t, "cli", 2))
	cli.SetPeer("srv", srv.Addr(), 0)
	waitFor(t, 5*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := cli.Call(ctx, "srv", "echo", nil)
		return err
	})
	if err := srv.Health(); err != nil {
		t.Fatalf("health after recovery: %v", err)
	}
	if err := cli.Send(context.Background(), "srv", &Envelope{Kind: KindMessage, Ref: 7}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if len(rs.envelopes()) == 0 {
			return errors.New("message not delivered")
		}
		return nil
	})
}

// TestClosedListenerIsUnhealthy: a listener closed under the transport
// stops the loop and says so in Health.
func TestClosedListenerIsUnhealthy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "srv", 1)
	cfg.Listener = ln
	srv, _ := startTCP(t, cfg)
	if err := srv.Health(); err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	waitFor(t, 5*time.Second, func() error {
		if err := srv.Health(); !errors.Is(err, ErrNotAccepting) {
			return fmt.Errorf("health %v", err)
		}
		return nil
	})
}

// TestHandshakePoolEviction checks the eviction policy: the oldest of the
// busiest source goes, a source at its limit replaces its own oldest, and
// other sources' slots are never taken by a flooding one.
func TestHandshakePoolEviction(t *testing.T) {
	p := newHandshakePool(4, 3)
	mk := func(src string) *pendingConn { return &pendingConn{source: src} }
	a1, a2, a3 := mk("a"), mk("a"), mk("a")
	b1 := mk("b")
	for _, pc := range []*pendingConn{a1, b1, a2, a3} {
		if v := p.admit(pc); v != nil {
			t.Fatalf("evicted %+v before the pool was full", v)
		}
	}
	if v := p.admit(mk("a")); v != a1 {
		t.Fatalf("a at its limit: evicted %+v, want a's oldest", v)
	}
	if v := p.admit(mk("c")); v != a2 {
		t.Fatalf("pool full: evicted %+v, want the busiest source's oldest", v)
	}
	for i := 0; i < 10; i++ {
		if v := p.admit(mk("a")); v == nil || v.source != "a" {
			t.Fatalf("flood from a evicted %+v", v)
		}
	}
	p.done(b1)
	if n := p.len(); n != 3 {
		t.Fatalf("%d pending after done, want 3", n)
	}
	p.done(b1) // twice, or after eviction: no-op
	if n := p.len(); n != 3 {
		t.Fatalf("%d pending after a second done", n)
	}
}

// idleFlood opens n idle connections to addr from local address from
// ("" for any) and keeps them open until the test ends.
func idleFlood(t *testing.T, addr, from string, n int) {
	t.Helper()
	d := net.Dialer{Timeout: time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	for i := 0; i < n; i++ {
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood dial %d: %v", i, err)
		}
		t.Cleanup(func() { _ = nc.Close() })
	}
}

// TestRestartedPeerGetsThroughIdleFlood: with every handshake slot held by
// idle half-open connections from the peer's own address, a restarted
// peer still connects and its messages flow.
func TestRestartedPeerGetsThroughIdleFlood(t *testing.T) {
	cfg := testConfig(t, "srv", 1)
	cfg.MaxPendingHandshakes = 8
	cfg.HandshakeTimeout = 30 * time.Second // the flood would otherwise time out by itself
	srv, rs := startTCP(t, cfg)
	cli, _ := startTCP(t, testConfig(t, "cli", 2))
	cli.SetPeer("srv", srv.Addr(), 0)
	if _, err := cli.Call(context.Background(), "srv", "echo", nil); err != nil {
		t.Fatal(err)
	}
	_ = cli.Close()
	base := runtime.NumGoroutine()
	idleFlood(t, srv.Addr(), "", 30*cfg.MaxPendingHandshakes)
	waitFor(t, 5*time.Second, func() error {
		if st := srv.Stats(); st.HandshakesPending != cfg.MaxPendingHandshakes || st.HandshakesEvicted == 0 {
			return fmt.Errorf("stats %+v, want the pool full and evictions", st)
		}
		// One goroutine per pending handshake; evicted ones are gone.
		if n := runtime.NumGoroutine(); n > base+cfg.MaxPendingHandshakes+4 {
			return fmt.Errorf("%d goroutines, %d before a flood of %d connections", n, base, 30*cfg.MaxPendingHandshakes)
		}
		return nil
	})
	again, _ := startTCP(t, testConfig(t, "cli", 3)) // restarted: new incarnation
	again.SetPeer("srv", srv.Addr(), 0)
	sendAndExpect(t, again, rs, 1)
}

// TestPeerGetsThroughContinuousFlood: a flood that keeps opening idle
// connections from another address never takes a real peer's slot.
func TestPeerGetsThroughContinuousFlood(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no second loopback address: %v", err)
	} else {
		_ = ln.Close()
	}
	cfg := testConfig(t, "srv", 1)
	cfg.MaxPendingHandshakes = 8
	cfg.HandshakeTimeout = 30 * time.Second
	srv, rs := startTCP(t, cfg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		var open []net.Conn
		defer func() {
			for _, nc := range open {
				_ = nc.Close()
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if nc, err := d.Dial("tcp", srv.Addr()); err == nil {
				open = append(open, nc)
			}
			if len(open) > 200 { // keep our own fd use bounded
				_ = open[0].Close()
				open = open[1:]
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })
	waitFor(t, 5*time.Second, func() error {
		if st := srv.Stats(); st.HandshakesEvicted < 50 {
			return fmt.Errorf("stats %+v: flood not under way", st)
		}
		return nil
	})
	for inc := uint64(2); inc <= 4; inc++ { // a peer restarting three times
		cli, _ := startTCP(t, testConfig(t, "cli", inc))
		cli.SetPeer("srv", srv.Addr(), 0)
		sendAndExpect(t, cli, rs, int(inc-1))
		_ = cli.Close()
	}
}

// sendAndExpect sends one envelope from tr to srv (retrying while the
// connection comes up) and waits until srv's recorder has want envelopes.
func sendAndExpect(t *testing.T, tr *TCPTransport, rs *recorder, want int) {
	t.Helper()
	waitFor(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := tr.Call(ctx, "srv", "echo", nil)
		return err
	})
	if err := tr.Send(context.Background(), "srv", &Envelope{Kind: KindMessage, Ref: uint64(want)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if n := len(rs.envelopes()); n < want {
			return fmt.Errorf("%d envelopes delivered, want %d", n, want)
		}
		return nil
	})
}
