package transport

import (
	"context"
	"net"
	"testing"
)

// BenchmarkAuthStreamDial is one raft connection's setup on loopback:
// TCP connect plus the stream proof (acceptor and dialer both in this
// process). BenchmarkPlainDial is the TCP connect alone, for comparison.
func BenchmarkAuthStreamDial(b *testing.B) {
	ring := testRing(b, testKey(1))
	l := listenStream(b, newTestStream(b, "a", ring, nil))
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d := newTestStream(b, "b", ring, nil)
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.Dial(context.Background(), l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkPlainDial(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
