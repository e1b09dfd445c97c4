package membership

import (
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// maxInboundStreams bounds gossip's inbound TCP streams being served at
// once. memberlist serves each on its own goroutine until it finishes or
// TCPTimeout passes, with no limit: a flood of idle connections would grow
// goroutines and file descriptors without bound. Honest streams (push/pull
// state syncs, joins, TCP ping fallbacks) are short and few.
const maxInboundStreams = 128

// limitedTransport is memberlist's NetTransport with a bound on inbound
// streams: when maxInboundStreams are being served, the oldest is closed
// to admit the newest. An honest stream finishes in a round trip or two, so
// what is evicted under a flood is a stranger's idle connection.
type limitedTransport struct {
	memberlist.NodeAwareTransport
	out  chan net.Conn
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	active  []*streamConn // oldest first
	evicted atomic.Uint64
}

// newLimitedTransport binds a NetTransport as memberlist.Create would (and
// updates mc's ports when it picked a free one) and wraps it.
func newLimitedTransport(mc *memberlist.Config, logger *log.Logger) (*limitedTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: logger}
	tries := 1
	if mc.BindPort == 0 {
		tries = 10 // the UDP and TCP ports must both be free: retry as memberlist does
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("membership: gossip transport: %w", err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.GetAutoBindPort()
		mc.AdvertisePort = mc.BindPort
	}
	t := &limitedTransport{NodeAwareTransport: nt, out: make(chan net.Conn), done: make(chan struct{})}
	t.wg.Add(1)
	go t.run(nt.StreamCh())
	return t, nil
}

// StreamCh delivers the inbound streams memberlist may serve.
func (t *limitedTransport) StreamCh() <-chan net.Conn { return t.out }

// Shutdown stops the filter and the NetTransport.
func (t *limitedTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
	return err
}

func (t *limitedTransport) run(in <-chan net.Conn) {
	defer t.wg.Done()
	for {
		select {
		case c := <-in:
			sc := t.admit(c)
			select {
			case t.out <- sc:
			case <-t.done:
				_ = sc.Close()
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *limitedTransport) admit(c net.Conn) *streamConn {
	sc := &streamConn{Conn: c, t: t}
	t.mu.Lock()
	var victim *streamConn
	if len(t.active) >= maxInboundStreams {
		victim = t.active[0]
	}
	t.active = append(t.active, sc)
	t.mu.Unlock()
	if victim != nil {
		t.evicted.Add(1)
		_ = victim.Close()
	}
	return sc
}

func (t *limitedTransport) forget(sc *streamConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, c := range t.active {
		if c == sc {
			t.active = append(t.active[:i:i], t.active[i+1:]...)
			return
		}
	}
}

// streamConn gives its slot back when closed (by memberlist or eviction).
type streamConn struct {
	net.Conn
	t      *limitedTransport
	closed atomic.Bool
}

func (c *streamConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.t.forget(c)
	}
	return c.Conn.Close()
}
