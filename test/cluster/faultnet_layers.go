package cluster

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// NewStreamLayer listens on addr (e.g. "127.0.0.1:0") for self's Raft.
func (n *Net) NewStreamLayer(self transport.NodeID, addr string) (*StreamLayer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	n.Register(self, ln.Addr().String())
	return &StreamLayer{Listener: ln, net: n, self: self}, nil
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// Dial implements raft.StreamLayer.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.net.Dial(ctx, s.self, "tcp", string(address))
}

// GossipTransport wraps memberlist's NetTransport: datagrams to or from a
// cut node are dropped, and stream dials across a cut fail.
type GossipTransport struct {
	inner *memberlist.NetTransport
	net   *Net
	self  transport.NodeID
	pkts  chan *memberlist.Packet
	stop  chan struct{} // Shutdown began: stop delivering, keep draining
	done  chan struct{} // inner transport shut down: stop draining
	once  sync.Once
	wg    sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*GossipTransport)(nil)

// NewGossipTransport binds memberlist's UDP and TCP on 127.0.0.1:port for
// self (port 0: a free one).
func (n *Net) NewGossipTransport(self transport.NodeID, port int) (*GossipTransport, error) {
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"}, BindPort: port})
	if err != nil {
		return nil, err
	}
	g := &GossipTransport{inner: inner, net: n, self: self,
		pkts: make(chan *memberlist.Packet, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	n.Register(self, g.Addr())
	g.wg.Add(1)
	go g.filterPackets()
	return g, nil
}

// Addr is the gossip address (UDP and TCP).
func (g *GossipTransport) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(g.inner.GetAutoBindPort()))
}

// Port is the bound gossip port.
func (g *GossipTransport) Port() int { return g.inner.GetAutoBindPort() }

// filterPackets forwards allowed datagrams to memberlist. Once Shutdown
// begins it keeps draining the inner transport (whose listener blocks on a
// full channel) until the inner transport has shut down.
func (g *GossipTransport) filterPackets() {
	defer g.wg.Done()
	for {
		select {
		case <-g.done:
			return
		case p, ok := <-g.inner.PacketCh():
			if !ok {
				return
			}
			if !g.net.delivers(g.self, p.From.String(), "") {
				continue
			}
			select {
			case g.pkts <- p:
			case <-g.stop: // memberlist no longer reads: drop
			}
		}
	}
}

func (g *GossipTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return g.inner.FinalAdvertiseAddr(ip, port)
}

func (g *GossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if !g.net.delivers(g.self, "", addr) {
		return time.Now(), nil // dropped on the floor, like UDP
	}
	return g.inner.WriteTo(b, addr)
}

func (g *GossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return g.WriteTo(b, a.Addr)
}

func (g *GossipTransport) PacketCh() <-chan *memberlist.Packet { return g.pkts }

func (g *GossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return g.net.Dial(ctx, g.self, "tcp", addr)
}

func (g *GossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return g.DialTimeout(a.Addr, timeout)
}

func (g *GossipTransport) StreamCh() <-chan net.Conn { return g.inner.StreamCh() }

// Shutdown closes the inner transport. Its TCP listener blocks handing an
// accepted stream to a memberlist that may never have started (a node
// whose New failed), so streams arriving meanwhile are closed here, or the
// inner Shutdown would wait for that listener forever.
func (g *GossipTransport) Shutdown() error {
	var err error
	g.once.Do(func() {
		close(g.stop)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for {
				select {
				case c := <-g.inner.StreamCh():
					_ = c.Close()
				case <-g.done:
					return
				}
			}
		}()
		err = g.inner.Shutdown()
		close(g.done)
	})
	g.wg.Wait()
	return err
}

// NewListener listens on addr for self's transport and registers it.
func (n *Net) NewListener(self transport.NodeID, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	n.Register(self, ln.Addr().String())
	return ln, nil
}
