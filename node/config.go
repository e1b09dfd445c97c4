package node

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/transport"
)

// Config configures a Node. New copies it; later changes to the caller's
// Config have no effect.
type Config struct {
	// NodeID names this node in the cluster; it is stable across restarts.
	// Default (DefaultConfig): the host name, reduced to the characters a
	// NodeID allows. When Transport is set and NodeID is empty, the
	// transport's LocalNode id is used; when both are set they must agree.
	NodeID NodeID

	// Incarnation tells boots of this node apart and is part of every PID,
	// so a PID of a previous boot never reaches a process of this one.
	// 0 (the default) draws a random non-zero value from crypto/rand, or
	// takes the transport's when Transport is set. Set it only to match an
	// incarnation already announced elsewhere (membership, transport).
	Incarnation uint64

	// Transport carries messages and signals to other nodes. nil (the
	// default) runs a single node: sends to other nodes' pids fail with
	// ErrNoRoute and monitors of them fire Down with NoConnection. The node
	// owns the transport from New on: it installs itself as the Handler,
	// starts it in Start and closes it in Shutdown.
	Transport transport.Transport

	// Logger receives the node's logs. nil (the default) discards them.
	Logger hclog.Logger

	// DefaultMailbox bounds the mailbox of processes spawned without
	// WithMailbox. Default: unbounded (Limit 0), like Erlang.
	DefaultMailbox MailboxConfig

	// RegistryPartitions is the number of partitions (shards) of the
	// node's built-in Names and Groups registries. Default 1, like
	// Elixir's Registry; raise it to the core count when many goroutines
	// register concurrently.
	RegistryPartitions int

	// NameListeners and GroupListeners hear every change of the built-in
	// Names() and Groups() registries, with its cause and, for an owner's
	// exit, the exit reason (see local.Listener: they run on the goroutine
	// that made the change, outside the registry's locks, in order per
	// partition, and must not write to the registry). Optional; a nil
	// element fails New with ErrBadConfig.
	NameListeners  []local.Listener[PID]
	GroupListeners []local.Listener[PID]

	// Global resolves cluster-wide names for Send(Global(...)) and checks
	// the fences of inbound messages sent by global name. nil (the default)
	// makes global sends fail with ErrNoGlobal. The clustered node
	// (package node/cluster) sets it to its *global.Table. It can also be
	// set after New with SetGlobal.
	Global GlobalResolver

	// Peers hears about the transport's connections to other nodes coming
	// up and breaking. nil (the default): nobody does. The clustered node
	// sets it to learn of a broken connection before gossip does.
	Peers PeerObserver

	// Requests serves RPCs that arrive over the transport (e.g. the global
	// table's forwarded writes). nil: every RPC fails with ErrNoHandler.
	// It can also be set after New with SetRequestHandler.
	Requests RequestHandler
}

// DefaultConfig returns a Config for a single node named after the host,
// with a random incarnation, no transport and unbounded mailboxes.
func DefaultConfig() Config {
	return Config{NodeID: hostNodeID(), RegistryPartitions: 1}
}

// hostNodeID derives a valid NodeID from the host name ("node" if none).
func hostNodeID() NodeID {
	h, _ := os.Hostname()
	var b strings.Builder
	for i := 0; i < len(h) && b.Len() < transport.MaxNodeIDLen; i++ {
		c := h[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "node"
	}
	return NodeID(b.String())
}

// Validate checks the fields without changing them. It does not resolve
// defaults taken from the transport; New does, on its copy.
func (c Config) Validate() error {
	if c.NodeID != "" || c.Transport == nil {
		if err := transport.ValidateNodeID(c.NodeID); err != nil {
			return fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
	}
	if c.Transport != nil {
		id, inc := c.Transport.LocalNode()
		if c.NodeID != "" && id != c.NodeID {
			return fmt.Errorf("%w: NodeID %q but transport is %q", ErrBadConfig, c.NodeID, id)
		}
		if c.Incarnation != 0 && inc != 0 && inc != c.Incarnation {
			return fmt.Errorf("%w: Incarnation %d but transport has %d", ErrBadConfig, c.Incarnation, inc)
		}
	}
	if err := c.DefaultMailbox.Validate(); err != nil {
		return err
	}
	for i, l := range append(append([]local.Listener[PID](nil), c.NameListeners...), c.GroupListeners...) {
		if l == nil {
			return fmt.Errorf("%w: nil registry listener %d", ErrBadConfig, i)
		}
	}
	if c.RegistryPartitions < 0 {
		return fmt.Errorf("%w: RegistryPartitions %d < 0", ErrBadConfig, c.RegistryPartitions)
	}
	return nil
}

// resolve fills the defaults of a validated copy.
func (c *Config) resolve() error {
	if c.Transport != nil {
		id, inc := c.Transport.LocalNode()
		if c.NodeID == "" {
			c.NodeID = id
		}
		if c.Incarnation == 0 {
			c.Incarnation = inc
		}
	}
	if err := transport.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if c.Incarnation == 0 {
		inc, err := NewIncarnation()
		if err != nil {
			return err
		}
		c.Incarnation = inc
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.RegistryPartitions == 0 {
		c.RegistryPartitions = 1
	}
	return nil
}

// NewIncarnation draws a random non-zero incarnation from crypto/rand, as
// New does when Config.Incarnation is 0. Code that builds a node's
// transport before the node (package node/cluster) draws it with this.
func NewIncarnation() (uint64, error) {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("%w: incarnation: %w", ErrBadConfig, err)
		}
		if inc := binary.LittleEndian.Uint64(b[:]); inc != 0 {
			return inc, nil
		}
	}
}
