package global

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// authStreamLayer is raft's StreamLayer over transport.AuthStream: every
// connection, inbound and outbound, runs TLS (when configured) and the
// cluster-key proof before raft reads or writes a byte of it.
type authStreamLayer struct {
	s   *transport.AuthStream
	ln  *transport.AuthListener
	adv net.Addr
}

var _ raft.StreamLayer = (*authStreamLayer)(nil)

// newAuthStreamLayer listens on c.RaftBind with the proof configured by
// c.RaftAuth (its NodeID defaults to c.NodeID).
func newAuthStreamLayer(c *Config) (*authStreamLayer, error) {
	sc := c.RaftAuth
	if sc.NodeID == "" {
		sc.NodeID = c.NodeID
	}
	if sc.Logger == nil && c.Logger != nil {
		sc.Logger = c.Logger.Named("raft-auth")
	}
	s, err := transport.NewAuthStream(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: RaftAuth: %w", ErrBadConfig, err)
	}
	var adv net.Addr
	if c.RaftAdvertise != "" {
		a, err := net.ResolveTCPAddr("tcp", c.RaftAdvertise)
		if err != nil {
			return nil, fmt.Errorf("%w: RaftAdvertise: %w", ErrBadConfig, err)
		}
		adv = a
	}
	inner, err := net.Listen("tcp", c.RaftBind)
	if err != nil {
		return nil, fmt.Errorf("global: raft listen on %s: %w", c.RaftBind, err)
	}
	if adv == nil {
		a := inner.Addr().(*net.TCPAddr)
		if a.IP.IsUnspecified() {
			_ = inner.Close()
			return nil, fmt.Errorf("%w: RaftBind %s needs a RaftAdvertise address", ErrBadConfig, c.RaftBind)
		}
		adv = a
	}
	return &authStreamLayer{s: s, ln: s.Listen(inner), adv: adv}, nil
}

// Accept returns the next authenticated inbound connection.
func (l *authStreamLayer) Accept() (net.Conn, error) { return l.ln.Accept() }

// Close closes the listener and every connection it accepted.
func (l *authStreamLayer) Close() error { return l.ln.Close() }

// Addr is the advertised raft address.
func (l *authStreamLayer) Addr() net.Addr { return l.adv }

// Dial opens an authenticated connection to a raft peer.
func (l *authStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.s.Dial(ctx, string(address))
}

// stats reports the raft listener's counters.
func (l *authStreamLayer) stats() transport.AuthListenerStats { return l.ln.Stats() }
