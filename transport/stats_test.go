package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestDroppedEnvelopesCounted: envelopes that Send accepted and the
// transport then discarded show in Stats.Dropped, for both transports.
func TestDroppedEnvelopesCounted(t *testing.T) {
	t.Run("tcp dial fails", func(t *testing.T) {
		cfg := testConfig(t, "cli", 2)
		cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, errors.New("injected dial failure")
		}
		cli, _ := startTCP(t, cfg)
		cli.SetPeer("srv", "127.0.0.1:1", 0)
		if err := cli.Send(context.Background(), "srv", &Envelope{Kind: KindMessage}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() error {
			if d := cli.Stats().Dropped; d != 1 {
				return fmt.Errorf("dropped %d, want 1", d)
			}
			return nil
		})
	})
	t.Run("tcp no handler", func(t *testing.T) {
		srv, err := NewTCPTransport(*testConfig(t, "srv", 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		cli, _ := startTCP(t, testConfig(t, "cli", 2))
		cli.SetPeer("srv", srv.Addr(), 0)
		for i := 0; i < 3; i++ {
			if err := cli.Send(context.Background(), "srv", &Envelope{Kind: KindMessage}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 5*time.Second, func() error {
			if d := srv.Stats().Dropped; d != 3 {
				return fmt.Errorf("dropped %d, want 3", d)
			}
			return nil
		})
	})
	t.Run("inmem faults", func(t *testing.T) {
		ih := inmemHarness{net: NewInmemNetwork(1)}
		a := ih.make(t, testConfig(t, "a", 1), newRecorder())
		b := ih.make(t, testConfig(t, "b", 2), newRecorder())
		a.SetPeer("b", b.Addr(), 0)
		ih.net.SetLinkFaults("a", "b", 1, 0)
		for i := 0; i < 5; i++ {
			if err := a.Send(context.Background(), "b", &Envelope{Kind: KindMessage}); err != nil {
				t.Fatal(err)
			}
		}
		if d := a.(StatsReporter).Stats().Dropped; d != 5 {
			t.Fatalf("dropped %d, want 5", d)
		}
	})
}
