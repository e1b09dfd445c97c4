package membership

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// Config configures a Membership.
type Config struct {
	// Meta is this node's published metadata. Meta.Node is also the gossip
	// name. Meta.Cluster keeps other clusters out. Required.
	Meta Meta

	// BindAddr and BindPort are where gossip listens (UDP and TCP).
	// Default 127.0.0.1 and 0 (any free port).
	BindAddr string
	BindPort int

	// AdvertiseAddr and AdvertisePort are what peers dial. Default: the
	// bound address.
	AdvertiseAddr string
	AdvertisePort int

	// Key encrypts and authenticates gossip (AES-GCM, 16/24/32 bytes).
	// Nil means plain gossip. A node with another key cannot join.
	Key []byte
	// Keys are more keys gossip accepts beside Key (the primary, which
	// encrypts): the rest of a keyring during a rotation. Default none.
	Keys [][]byte

	// Memberlist is the base memberlist configuration whose failure
	// detection and dissemination timings gossip runs with; New copies it
	// and sets the rest (name, label, addresses, key, delegates, logger).
	// nil: memberlist.DefaultLANConfig(). The clustered node passes its
	// Profile's (package node/cluster, profile.go).
	Memberlist *memberlist.Config

	// RejoinInterval is how often the node re-dials its seeds and every
	// address it has seen, so that partitioned halves merge again after
	// healing. Default 5s; negative disables.
	RejoinInterval time.Duration

	// Resolver resolves the DNS names among the seeds given to Join, at
	// every join and rejoin attempt (see Join). Nil means net.DefaultResolver.
	Resolver Resolver

	// EventBuffer is the capacity of the Events channel. Default 1024.
	EventBuffer int

	// Transport overrides memberlist's network transport (nil: UDP+TCP on
	// BindAddr:BindPort). The test harness wraps it to inject faults.
	Transport memberlist.Transport

	// Logger receives memberlist's and our logs. Default hclog.NewNullLogger.
	Logger hclog.Logger

	// Tune, when set, may adjust the memberlist configuration last (tests).
	Tune func(*memberlist.Config)
}

// DefaultConfig returns a Config for memberlist's LAN timings on loopback.
func DefaultConfig() Config {
	return Config{BindAddr: "127.0.0.1", EventBuffer: 1024}
}

// setDefaults fills the empty fields that have a default (New does, on
// its copy).
func (c *Config) setDefaults() {
	if c.BindAddr == "" {
		c.BindAddr = "127.0.0.1"
	}
	if c.Meta.Proto == 0 {
		c.Meta.Proto = ProtocolVersion
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = 5 * time.Second
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 1024
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
}

// Validate checks c without changing it; empty fields that have a default
// are valid.
func (c Config) Validate() error {
	c.setDefaults()
	if net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("%w: bind address %q is not an IP", ErrBadConfig, c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 || c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("%w: port out of range", ErrBadConfig)
	}
	switch len(c.Key) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: got %d", ErrBadKey, len(c.Key))
	}
	if c.Meta.Cluster == "" {
		return fmt.Errorf("%w: empty cluster id", ErrBadConfig)
	}
	if _, err := c.Meta.encode(); err != nil {
		return err
	}
	if _, err := decodeMeta(mustEncode(&c.Meta)); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

func mustEncode(m *Meta) []byte {
	b, _ := m.encode()
	return b
}
