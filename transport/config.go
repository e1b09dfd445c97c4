package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults used by DefaultConfig.
const (
	// DefaultMaxFrameSize is 4 MiB: room for large user messages and Raft
	// forwarding payloads while bounding what one frame can make us
	// allocate.
	DefaultMaxFrameSize = 4 << 20
	// DefaultQueueSize is 4096 frames per peer: deep enough to absorb a
	// burst while the writer flushes, small enough to push back quickly.
	DefaultQueueSize = 4096
	// DefaultQueueBytes is 4 MiB of encoded frames per peer: bigger batches
	// fall out of the CPU cache and measured slower on loopback.
	DefaultQueueBytes = 4 << 20
)

// Config configures a TCPTransport or an InmemTransport. New* functions copy
// it; they never modify the caller's value.
type Config struct {
	// NodeID is this node's id (required; see ValidateNodeID).
	NodeID NodeID
	// Incarnation is this boot's random non-zero number (required); it is
	// announced in the handshake so peers notice restarts.
	Incarnation uint64
	// ClusterID names the cluster; peers with another id are refused.
	// Default "roster".
	ClusterID string
	// ClusterKey, when set, must be shared by all nodes: each handshake
	// proves knowledge of it with HMAC-SHA256 over fresh nonces (the key
	// never crosses the wire). Empty means no authentication. Use 32 random
	// bytes.
	ClusterKey []byte
	// Keyring, when set, replaces ClusterKey: proofs are made with its
	// primary and a proof by any of its keys is accepted, so keys rotate
	// without a restart (see Keyring). Default nil.
	Keyring *Keyring

	// BindAddr is the TCP address to listen on. Default "127.0.0.1:0".
	BindAddr string
	// AdvertiseAddr is the address peers should dial, when it differs from
	// the bound one (NAT, 0.0.0.0 binds). Default: the bound address.
	AdvertiseAddr string

	// MaxFrameSize is the largest frame, in bytes (type byte and body),
	// accepted or sent. A longer length prefix closes the connection before
	// anything is allocated. Default DefaultMaxFrameSize (4 MiB).
	MaxFrameSize int
	// QueueSize bounds each peer's outbound queue, in frames. When it is
	// full Send blocks until there is room or its ctx is done; TrySend
	// returns ErrQueueFull. Default DefaultQueueSize (4096).
	QueueSize int
	// QueueBytes bounds each peer's outbound queue in encoded bytes, with
	// the same policy as QueueSize (a single frame may overshoot it). Default
	// DefaultQueueBytes (4 MiB).
	QueueBytes int
	// MaxInflightRequests bounds our calls in flight to one peer (more wait
	// for a slot, or their ctx). A peer with more than twice this many
	// requests running on one connection is flooding and that connection is
	// closed. Default 1024.
	MaxInflightRequests int
	// MaxPendingHandshakes bounds inbound connections that have not yet
	// completed their handshake (proven the key). A newcomer is never
	// refused: when the bound is reached the oldest pending handshake of the
	// source address holding the most slots is closed, so a flood of idle or
	// slow connections displaces only itself and a real peer's reconnect
	// (one or two round trips) gets through. Default 64.
	MaxPendingHandshakes int
	// MaxPendingHandshakesPerIP bounds the pending handshakes of one
	// source IP; a newcomer from a source at its bound replaces that
	// source's oldest, so one address never takes slots from another.
	// Default 16.
	MaxPendingHandshakesPerIP int

	// HandshakeTimeout is the time a connection has to finish its
	// handshake (both directions); an inbound connection holds a handshake
	// slot for at most this long. Default 5s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds one TCP (and TLS) dial. Default 5s.
	DialTimeout time.Duration
	// WriteTimeout bounds one coalesced write; a peer that stops reading
	// for this long has its connection closed, so it cannot pin our queue
	// (senders see the connection fail instead of blocking forever).
	// Default 10s.
	WriteTimeout time.Duration
	// RedialMin and RedialMax bound the backoff between failed dials to a
	// peer (doubling, with up to 50% jitter). While a peer is backing off,
	// Send and Call to it fail fast with a *PeerError. Default 50ms, 5s.
	RedialMin time.Duration
	RedialMax time.Duration

	// TLS, when set, is used for both directions: listener and dialer. It
	// must hold the node's certificate; set ClientCAs/ClientAuth and RootCAs
	// for mutual TLS. See LoadTLSConfig.
	TLS *tls.Config
	// CAFile, CertFile and KeyFile are PEM files; when CertFile is set and
	// TLS is nil, mutual TLS is configured from them with LoadTLSConfig.
	CAFile   string
	CertFile string
	KeyFile  string

	// Logger receives connection lifecycle and refusal reasons. Default: an
	// hclog logger named "transport" at Info level on stderr.
	Logger hclog.Logger

	// Dialer opens outbound connections (fault-injection hook). nil means
	// a net.Dialer with DialTimeout.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Listener accepts inbound connections (fault-injection hook). nil
	// means net.Listen("tcp", BindAddr). The transport closes it.
	Listener net.Listener
}

// DefaultConfig returns a Config with every default filled in; set NodeID
// and Incarnation before use.
func DefaultConfig() Config {
	return Config{
		ClusterID:                 "roster",
		BindAddr:                  "127.0.0.1:0",
		MaxFrameSize:              DefaultMaxFrameSize,
		QueueSize:                 DefaultQueueSize,
		QueueBytes:                DefaultQueueBytes,
		MaxInflightRequests:       1024,
		MaxPendingHandshakes:      64,
		MaxPendingHandshakesPerIP: 16,
		HandshakeTimeout:          5 * time.Second,
		DialTimeout:               5 * time.Second,
		WriteTimeout:              10 * time.Second,
		RedialMin:                 50 * time.Millisecond,
		RedialMax:                 5 * time.Second,
	}
}

// DefaultLocalConfig is DefaultConfig tuned for tests on one machine:
// short timeouts and backoff.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.HandshakeTimeout = time.Second
	c.DialTimeout = time.Second
	c.RedialMin = 5 * time.Millisecond
	c.RedialMax = 100 * time.Millisecond
	return c
}

// Validate checks c, without changing it, and returns an error wrapping
// ErrBadConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
	}
	if err := ValidateNodeID(c.NodeID); err != nil {
		return bad("NodeID: %w", err)
	}
	switch {
	case c.Incarnation == 0:
		return bad("Incarnation must be non-zero")
	case c.ClusterID == "":
		return bad("ClusterID is empty")
	case c.MaxFrameSize < 64 || c.MaxFrameSize > 1<<30:
		return bad("MaxFrameSize %d not in 64..1GiB", c.MaxFrameSize)
	case c.QueueSize < 1:
		return bad("QueueSize %d < 1", c.QueueSize)
	case c.QueueBytes < 1:
		return bad("QueueBytes %d < 1", c.QueueBytes)
	case c.MaxInflightRequests < 1 || c.MaxPendingHandshakes < 1 || c.MaxPendingHandshakesPerIP < 1:
		return bad("MaxInflightRequests, MaxPendingHandshakes and MaxPendingHandshakesPerIP must be >= 1")
	case c.HandshakeTimeout <= 0 || c.DialTimeout <= 0 || c.WriteTimeout <= 0:
		return bad("HandshakeTimeout, DialTimeout and WriteTimeout must be > 0")
	case c.RedialMin <= 0 || c.RedialMax < c.RedialMin:
		return bad("need 0 < RedialMin <= RedialMax")
	case c.CertFile != "" && (c.KeyFile == "" || c.CAFile == ""):
		return bad("CertFile needs KeyFile and CAFile")
	}
	return nil
}

// primaryKey is the key our proofs are made with.
func (c *Config) primaryKey() []byte {
	if c.Keyring != nil {
		return c.Keyring.Primary()
	}
	return c.ClusterKey
}

// keys are the keys a peer's proof may be made with.
func (c *Config) keys() [][]byte {
	if c.Keyring != nil {
		return c.Keyring.Keys()
	}
	if len(c.ClusterKey) == 0 {
		return nil
	}
	return [][]byte{c.ClusterKey}
}

// clone returns a copy of c with defaults filled for zero fields, so a
// partially filled Config works.
func (c *Config) clone() *Config {
	n := *c
	d := DefaultConfig()
	if n.ClusterID == "" {
		n.ClusterID = d.ClusterID
	}
	if n.BindAddr == "" {
		n.BindAddr = d.BindAddr
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&n.MaxFrameSize, d.MaxFrameSize)
	setInt(&n.QueueSize, d.QueueSize)
	setInt(&n.QueueBytes, d.QueueBytes)
	setInt(&n.MaxInflightRequests, d.MaxInflightRequests)
	setInt(&n.MaxPendingHandshakes, d.MaxPendingHandshakes)
	setInt(&n.MaxPendingHandshakesPerIP, d.MaxPendingHandshakesPerIP)
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setDur(&n.HandshakeTimeout, d.HandshakeTimeout)
	setDur(&n.DialTimeout, d.DialTimeout)
	setDur(&n.WriteTimeout, d.WriteTimeout)
	setDur(&n.RedialMin, d.RedialMin)
	setDur(&n.RedialMax, max(d.RedialMax, n.RedialMin))
	n.ClusterKey = append([]byte(nil), c.ClusterKey...)
	if n.Logger == nil {
		n.Logger = hclog.New(&hclog.LoggerOptions{Name: "transport", Level: hclog.Info})
	}
	return &n
}
