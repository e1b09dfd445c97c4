package membership

import (
	"fmt"

	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// ProtocolVersion is the version of the Meta format and of the cluster
// protocol this build speaks. Peers with another major version are refused.
const ProtocolVersion = 1

// MaxMetaSize is memberlist's limit on NodeMeta, in bytes.
const MaxMetaSize = 512

// Role says whether a node may be a Raft voter.
type Role string

// Roles.
const (
	// RoleServer nodes are Raft voters (the first bootstrap-expect of them)
	// or non-voters.
	RoleServer Role = "server"
	// RoleClient nodes never vote; they forward writes.
	RoleClient Role = "client"
)

// Meta is what each member publishes in gossip.
type Meta struct {
	Cluster     string           `msgpack:"c"`
	Node        transport.NodeID `msgpack:"n"`
	Incarnation uint64           `msgpack:"i"`
	Transport   string           `msgpack:"t"` // host:port of our transport
	Raft        string           `msgpack:"r"` // host:port of Raft
	Role        Role             `msgpack:"ro"`
	Proto       uint8            `msgpack:"p"`
	// Expect is the node's -bootstrap-expect (0: it will not bootstrap).
	Expect int `msgpack:"e,omitempty"`
	// HasState is set when the node has Raft state on disk, so that
	// bootstrap-expect never bootstraps a cluster that already exists.
	HasState bool `msgpack:"h,omitempty"`
	// Boot identifies the server set this node bootstrapped with (a hash),
	// so that the other members of that set bootstrap identically rather
	// than wait for a cluster that is still forming.
	Boot string `msgpack:"b,omitempty"`
	// Leaving is set just before a graceful leave, so that peers can tell
	// a leave from a death (memberlist reports both as NotifyLeave).
	Leaving bool `msgpack:"l,omitempty"`
}

// encode returns m's wire form, or an error when it exceeds MaxMetaSize.
func (m *Meta) encode() ([]byte, error) {
	b, err := msgpack.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("membership: encode meta: %w", err)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMetaTooLarge, len(b))
	}
	return b, nil
}

// decodeMeta parses a peer's NodeMeta.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrBadMeta)
	}
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	if err := transport.ValidateNodeID(m.Node); err != nil {
		return m, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	if m.Incarnation == 0 {
		return m, fmt.Errorf("%w: zero incarnation", ErrBadMeta)
	}
	return m, nil
}
