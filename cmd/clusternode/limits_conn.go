package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// limitListener accepts at most n connections at once (golang.org/x/net's
// netutil.LimitListener, counted into open for /metrics). While n are open,
// Accept waits: further clients queue in the kernel's backlog and hold no
// descriptor of ours, so a flood of slow connections cannot exhaust the
// process's descriptors (raft and the transport share them).
type limitListener struct {
	net.Listener
	sem  chan struct{}
	open *atomic.Int64

	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(ln net.Listener, n int, open *atomic.Int64) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), open: open, done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.open.Add(1)
	return &limitConn{Conn: c, release: func() { l.open.Add(-1); <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back once, at the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// maxHeaderBytes caps a request's headers: 64 KiB (net/http's default is 1 MiB).
const maxHeaderBytes = 64 << 10

// listenHTTP opens the API's listener: at most MaxConns connections at
// once, TLS when configured.
func listenHTTP(cfg *agentConfig, lim *limits) (net.Listener, error) {
	var tlsCfg *tls.Config
	if cfg.Security.TLS.enabled() {
		var err error
		if tlsCfg, err = cfg.Security.TLS.serverConfig(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("-http %s: %w", cfg.HTTPAddr, err)
	}
	ln = newLimitListener(ln, lim.cfg.MaxConns, &lim.conns)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}
