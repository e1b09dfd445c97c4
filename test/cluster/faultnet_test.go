package cluster

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/roster-dev/roster/transport"
)

func TestNetCutsAndHeals(t *testing.T) {
	n := NewNet()
	ln, err := n.NewListener("b", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ctx := context.Background()
	c, err := n.Dial(ctx, "a", "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}

	n.Partition([]transport.NodeID{"a"})
	if _, err := c.Write([]byte("y")); !errors.Is(err, ErrCut) {
		t.Fatalf("write across a cut: %v", err)
	}
	// The far end sees the connection break too.
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	nr, _ := server.Read(buf) // the byte written before the cut
	if _, err := server.Read(buf[nr:]); err != io.EOF && !errors.Is(err, net.ErrClosed) {
		if ne, ok := err.(net.Error); !ok || ne.Timeout() {
			t.Fatalf("far end after cut: %v", err)
		}
	}
	if _, err := n.Dial(ctx, "a", "tcp", ln.Addr().String()); !errors.Is(err, ErrCut) {
		t.Fatalf("dial across a cut: %v", err)
	}
	if !n.Reachable("b", "c") || n.Reachable("a", "b") {
		t.Fatal("unnamed nodes form one group; a is alone")
	}

	n.Heal()
	c2, err := n.Dial(ctx, "a", "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial after heal: %v", err)
	}
	c2.Close()

	// A bridge: a and c cannot reach each other, b reaches both.
	n.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"}, []transport.NodeID{"c"})
	n.Link("b", "a")
	n.Link("b", "c")
	if n.Reachable("a", "c") || !n.Reachable("a", "b") || !n.Reachable("c", "b") {
		t.Fatal("bridge: a-c must be cut, b must reach both")
	}
	n.Heal()

	n.Freeze("b")
	if n.Reachable("a", "b") || n.Reachable("c", "b") {
		t.Fatal("frozen node reachable")
	}
	n.Thaw("b")
	if !n.Reachable("a", "b") {
		t.Fatal("thawed node unreachable")
	}
}

// TestNetOneWay: a one-way loss drops datagrams in one direction only and
// breaks streams both ways; Heal ends it.
func TestNetOneWay(t *testing.T) {
	n := NewNet()
	n.Register("a", "127.0.0.1:1001")
	n.Register("b", "127.0.0.1:1002")
	n.OneWay("a", "b")
	if n.delivers("a", "", "127.0.0.1:1002") {
		t.Fatal("a's datagram to b delivered across a one-way loss")
	}
	if !n.delivers("b", "", "127.0.0.1:1001") || !n.delivers("a", "127.0.0.1:1002", "") {
		t.Fatal("b's datagrams to a must still arrive")
	}
	if n.delivers("b", "127.0.0.1:1001", "") {
		t.Fatal("b received a datagram from a across a one-way loss")
	}
	if n.Reachable("a", "b") || n.Reachable("b", "a") {
		t.Fatal("a stream needs both directions")
	}
	if !n.Reachable("a", "c") {
		t.Fatal("a one-way loss cuts only its pair")
	}
	n.Heal()
	if !n.delivers("a", "", "127.0.0.1:1002") || !n.Reachable("a", "b") {
		t.Fatal("heal must end a one-way loss")
	}
}
