package transport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NodeID names a node in the cluster. It is chosen by the operator (the
// daemon's -node flag, default the hostname) and is stable across restarts;
// the Incarnation in a PID tells boots of one node apart.
type NodeID string

// Limits on identifiers.
const (
	// MaxNodeIDLen is the longest node id, in bytes.
	MaxNodeIDLen = 64
)

// PID identifies a process anywhere in the cluster, for all time: a PID is
// never reused. Node is the node's id, Incarnation is a random non-zero
// number drawn when the node boots, and Serial counts processes spawned
// during that boot from 1.
//
// PID is comparable and can key a map. Its zero value is "no process".
type PID struct {
	Node        NodeID `msgpack:"n"`
	Incarnation uint64 `msgpack:"i"`
	Serial      uint64 `msgpack:"s"`
}

// Errors returned by ParsePID and ValidateNodeID.
var (
	ErrBadPID    = errors.New("transport: malformed pid")
	ErrBadNodeID = errors.New("transport: invalid node id")
)

// IsZero reports whether p is the zero PID.
func (p PID) IsZero() bool { return p == PID{} }

// String returns the compact, URL-safe form "node.incarnation.serial", with
// incarnation and serial in base 36, e.g. "web-1.3w5e11264sgsf.2a".
// ParsePID reverses it. The zero PID prints as "".
func (p PID) String() string {
	if p.IsZero() {
		return ""
	}
	b := make([]byte, 0, len(p.Node)+1+13+1+6)
	b = append(b, p.Node...)
	b = append(b, '.')
	b = strconv.AppendUint(b, p.Incarnation, 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, p.Serial, 36)
	return string(b)
}

// ParsePID parses the form produced by PID.String. The node id may itself
// contain dots; incarnation and serial are the last two fields.
func ParsePID(s string) (PID, error) {
	j := strings.LastIndexByte(s, '.')
	if j <= 0 {
		return PID{}, fmt.Errorf("%w: %q", ErrBadPID, s)
	}
	i := strings.LastIndexByte(s[:j], '.')
	if i <= 0 {
		return PID{}, fmt.Errorf("%w: %q", ErrBadPID, s)
	}
	inc, err1 := strconv.ParseUint(s[i+1:j], 36, 64)
	ser, err2 := strconv.ParseUint(s[j+1:], 36, 64)
	if err1 != nil || err2 != nil || inc == 0 || ser == 0 {
		return PID{}, fmt.Errorf("%w: %q", ErrBadPID, s)
	}
	node := NodeID(s[:i])
	if err := ValidateNodeID(node); err != nil {
		return PID{}, fmt.Errorf("%w: %q: %w", ErrBadPID, s, err)
	}
	// Reject non-canonical spellings (upper case, leading zeros) so that a
	// PID has exactly one string form.
	p := PID{Node: node, Incarnation: inc, Serial: ser}
	if p.String() != s {
		return PID{}, fmt.Errorf("%w: %q is not canonical", ErrBadPID, s)
	}
	return p, nil
}

// ValidateNodeID checks that id is 1..MaxNodeIDLen bytes of ASCII letters,
// digits, '-', '_' and '.', not starting or ending with '.'.
func ValidateNodeID(id NodeID) error {
	if len(id) == 0 || len(id) > MaxNodeIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrBadNodeID, len(id), MaxNodeIDLen)
	}
	if id[0] == '.' || id[len(id)-1] == '.' {
		return fmt.Errorf("%w: %q starts or ends with '.'", ErrBadNodeID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("%w: %q has byte %q", ErrBadNodeID, id, c)
		}
	}
	return nil
}
