package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestGossipStreamFlood: 600 idle TCP connections to the gossip port are
// served at most maxInboundStreams at a time (goroutines stay bounded),
// and a real member still joins and is seen alive during the flood.
func TestGossipStreamFlood(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a := start(t, "a", "c1", key)
	before := runtime.NumGoroutine()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 600 {
		c, err := net.Dial("tcp", a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, 5*time.Second, func() error {
		a.limit.mu.Lock()
		active := len(a.limit.active)
		a.limit.mu.Unlock()
		if ev := a.limit.evicted.Load(); ev < 600-maxInboundStreams || active > maxInboundStreams {
			return fmt.Errorf("%d streams served, %d evicted", active, ev)
		}
		return nil
	})
	b := start(t, "b", "c1", key)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Join(ctx, []string{a.Addr()}); err != nil {
		t.Fatalf("join during the flood: %v", err)
	}
	waitFor(t, 5*time.Second, func() error {
		if aliveIDs(a)["b"] != StateAlive {
			return errors.New("a does not see b")
		}
		return nil
	})
	if n := runtime.NumGoroutine(); n > before+maxInboundStreams+100 {
		t.Fatalf("%d goroutines during the flood, %d before", n, before)
	}
}
