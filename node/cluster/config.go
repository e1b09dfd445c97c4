package cluster

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// Config configures a clustered Node: the runtime's own settings
// (node.Config, embedded: NodeID, Logger, mailboxes, ...) plus what makes
// it a member of a Roster cluster: a TCP transport for messages, a
// Raft-replicated global name table, and memberlist gossip that finds
// peers and detects dead ones. New copies it; later changes to the
// caller's Config have no effect.
type Config struct {
	// Config holds the runtime's settings. NodeID is required (and names
	// the node in gossip and Raft). Transport, when set, replaces the TCP
	// transport New builds from BindAddr and TransportPort. Global,
	// Requests and Peers belong to the cluster: New sets them and refuses
	// a Config that sets them.
	node.Config

	// ClusterID keeps clusters apart: gossip, transport handshakes and
	// Raft membership refuse peers with another id. Default "roster".
	ClusterID string

	// Key, when set, is the cluster's shared secret (16, 24 or 32 bytes;
	// `clusternode keygen` makes a 32-byte one). It encrypts gossip
	// (memberlist keyring) and authenticates transport handshakes (HMAC
	// challenge-response; the key never crosses the wire). A node without
	// the key cannot join, send or register. Default nil: no encryption.
	Key []byte

	// DataDir holds the Raft log, stable store (raft-boltdb) and snapshots.
	// Required unless InmemStore is set. Restarting with the same DataDir
	// keeps every committed name. A damaged DataDir fails New with
	// global.ErrCorruptDataDir, one missing its raft.db or WAL beside
	// other Raft state (or beside its node-id) with global.ErrStateMissing.
	DataDir string
	// RaftLogStore is the Raft log store of a new DataDir:
	// global.LogStoreWAL (one fsync per append) or global.LogStoreBoltDB.
	// An existing DataDir must hold the same (global.ErrLogStoreMismatch).
	// Default "": global's default, LogStoreBoltDB.
	RaftLogStore global.LogStore
	// RejoinAsNew starts a node whose DataDir lost raft.db or the WAL:
	// the rest of the Raft state moves to DataDir/discarded/<time>/ and
	// the node starts empty, to be caught up by the leader. It forgets
	// its term and vote. Default false (global.Config.RejoinAsNew).
	RejoinAsNew bool
	// InmemStore keeps Raft state in memory (tests). Default false.
	InmemStore bool

	// BindAddr is the IP every listener binds. Default "127.0.0.1".
	BindAddr string
	// AdvertiseAddr is the IP peers dial. Default: BindAddr (which must
	// then not be 0.0.0.0).
	AdvertiseAddr string
	// GossipPort, TransportPort and RaftPort are the three listening
	// ports. 0 picks a free port (tests); the daemon defaults to 7946,
	// 7947 and 7948.
	GossipPort, TransportPort, RaftPort int

	// Join is a list of gossip addresses to join at Start: IP:port,
	// HOST:port (every A/AAAA record of HOST) or membership.SRVSeedPrefix
	// + NAME (every SRV record). Names are resolved again at every retry;
	// unreachable seeds are retried by the rejoin loop. Default none.
	Join []string

	// Resolver resolves the DNS names in Join. Nil: net.DefaultResolver.
	Resolver membership.Resolver

	// BootstrapExpect is the number of servers that form the cluster (1 for
	// a single node, 3 or 5 for production). When that many servers with
	// the same expectation are in gossip and none has Raft state, the
	// first BootstrapExpect by node id bootstrap once with one identical
	// configuration. 0: never bootstrap; wait to be added by a leader.
	BootstrapExpect int

	// Role is RoleServer (may vote in Raft; the default) or RoleClient
	// (never votes, forwards writes).
	Role membership.Role

	// Profile picks gossip failure-detection and Raft timings: ProfileLAN
	// (default; a crashed node's names go in ~7 s) or ProfileFast (one host
	// or rack; ~1.5 s). profile.go has every number.
	Profile Profile

	// PurgeGrace, ReconcileInterval and DeadServerGrace override the
	// profile's defaults (profile.go; controller_config.go says what each does). 0: default.
	PurgeGrace        time.Duration
	ReconcileInterval time.Duration
	DeadServerGrace   time.Duration

	// Groups tunes the cluster-wide process groups (scopes, batching,
	// queue bounds, heartbeat). Zero fields take the profile's defaults:
	// FastGroupConfig for ProfileFast, DefaultGroupConfig otherwise.
	Groups GroupConfig

	// TransportTLS configures TLS on the transport from PEM files (all
	// three, or none). Default: plain TCP.
	TLSCAFile, TLSCertFile, TLSKeyFile string

	// Metrics receives the cluster's measurements (roster.purge.*,
	// roster.members, roster.leader.changes) and, when set, the global
	// table's (write latencies, batch sizes, forwarded writes; see package
	// global's metrics.go). nil (the default): go-metrics' default
	// instance for the cluster's, none for the table's.
	Metrics *metrics.Metrics

	// ring is the keyring gossip, the transport and raft share (openKeyring,
	// set by New on its copy). nil without a key.
	ring *transport.Keyring
}

// DefaultConfig returns a Config for a single LAN server (bootstrap-expect
// 1) named after the host, on loopback with free ports; set DataDir (or
// InmemStore).
func DefaultConfig() Config {
	return Config{Config: node.DefaultConfig(), ClusterID: "roster", BindAddr: "127.0.0.1",
		Role: membership.RoleServer, Profile: ProfileLAN, BootstrapExpect: 1}
}

// setDefaults fills the empty fields that have a default (New does, on
// its copy).
func (c *Config) setDefaults() {
	if c.ClusterID == "" {
		c.ClusterID = "roster"
	}
	if c.BindAddr == "" {
		c.BindAddr = "127.0.0.1"
	}
	if c.Role == "" {
		c.Role = membership.RoleServer
	}
	if c.Profile == "" {
		c.Profile = ProfileLAN
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
}

// Validate checks c without changing it; empty fields that have a default
// are valid.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if c.Global != nil || c.Requests != nil || c.Peers != nil {
		return fmt.Errorf("%w: Global, Requests and Peers are set by the cluster", ErrBadConfig)
	}
	c.setDefaults()
	if err := c.Groups.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if _, err := ParseProfile(string(c.Profile)); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if c.Role != membership.RoleServer && c.Role != membership.RoleClient {
		return fmt.Errorf("%w: role %q (want server or client)", ErrBadConfig, c.Role)
	}
	bind := net.ParseIP(c.BindAddr)
	if bind == nil {
		return fmt.Errorf("%w: bind address %q is not an IP", ErrBadConfig, c.BindAddr)
	}
	if c.AdvertiseAddr == "" && bind.IsUnspecified() {
		return fmt.Errorf("%w: bind address %s needs an advertise address", ErrBadConfig, c.BindAddr)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		return fmt.Errorf("%w: advertise address %q is not an IP", ErrBadConfig, c.AdvertiseAddr)
	}
	for _, p := range []int{c.GossipPort, c.TransportPort, c.RaftPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%w: port %d out of range", ErrBadConfig, p)
		}
	}
	switch len(c.Key) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: key must be 16, 24 or 32 bytes, got %d", ErrBadConfig, len(c.Key))
	}
	if c.DataDir == "" && !c.InmemStore {
		return fmt.Errorf("%w: cluster needs a DataDir (or InmemStore)", ErrBadConfig)
	}
	if c.BootstrapExpect < 0 || (c.Role == membership.RoleClient && c.BootstrapExpect > 0) {
		return fmt.Errorf("%w: bootstrap-expect %d for a %s", ErrBadConfig, c.BootstrapExpect, c.Role)
	}
	n := 0
	for _, f := range []string{c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		return fmt.Errorf("%w: TLS needs a CA, a certificate and a key file", ErrBadConfig)
	}
	return nil
}

// reservePorts picks concrete ports for the listeners left at 0 when an
// AdvertiseAddr is set: peers must be told a real port, and the advertised
// address is fixed before the listeners bind. (A port picked this way can
// in principle be taken by someone else before we bind it; set the ports
// explicitly in production.)
func (c *Config) reservePorts() error {
	if c.AdvertiseAddr == "" {
		return nil
	}
	for _, p := range []*int{&c.GossipPort, &c.TransportPort, &c.RaftPort} {
		if *p != 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(c.BindAddr, "0"))
		if err != nil {
			return fmt.Errorf("%w: pick a port: %w", ErrBadConfig, err)
		}
		*p = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return nil
}

// Role says whether a node may vote in Raft (Config.Role).
type Role = membership.Role

// Roles.
const (
	// RoleServer may vote in Raft (the first BootstrapExpect servers do).
	RoleServer = membership.RoleServer
	// RoleClient never votes and forwards its writes.
	RoleClient = membership.RoleClient
)
