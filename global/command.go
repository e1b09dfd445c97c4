package global

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// Reason says why a name was registered or removed. It travels in events
// and in the log. It is local.Reason, Roster's one reason vocabulary,
// shared with local registries, the clustered node and the daemon's HTTP
// API and SSE stream.
type Reason = local.Reason

// Reasons carried by events. Callers of UnregisterPID, PurgeIncarnation and
// PurgeNodeExcept pass one of the removal reasons (any short string is
// accepted, these are the ones the product uses).
const (
	ReasonRegister    = local.ReasonRegister    // Register succeeded
	ReasonReRegister  = local.ReasonReRegister  // ReRegister pointed the name at an owner
	ReasonMeta        = local.ReasonMeta        // UpdateMeta changed the value
	ReasonUnregister  = local.ReasonUnregister  // Unregister or ForceUnregister
	ReasonProcessExit = local.ReasonProcessExit // the owner exited
	ReasonNodeDown    = local.ReasonNodeDown    // the owner's node was declared dead
	ReasonNodeLeft    = local.ReasonNodeLeft    // the owner's node left gracefully
	ReasonRestart     = local.ReasonRestart     // the owner's node restarted (new incarnation)
	ReasonConflict    = local.ReasonConflict    // ReRegister took the name from this owner
)

// op is a command's operation. It is on the wire and in the log: append only.
type op uint8

const (
	opRegister      op = 1
	opReRegister    op = 2
	opUnregister    op = 3 // by the owner, or forced when Force is set
	opUnregisterPID op = 4
	opPurge         op = 5 // one incarnation, or all but one when Except is set
	opUpdateMeta    op = 6
	opRevive        op = 7 // forget that Node's Incarnation was purged: it is alive after all
)

// commandVersion is the version of the command encoding this build writes.
// Apply refuses commands with a newer version (a mixed-version cluster must
// upgrade every voter before any leader writes a newer version).
const commandVersion = 1

// entryFormat is the first byte of every log entry we write: a msgpack array
// of commands follows. On the log: append only.
const entryFormatBatch byte = 1

// reqID identifies one logical write. Hi is random per Table boot, Lo counts
// writes, so ids are unique across nodes and restarts. A retried write keeps
// its id and the FSM applies it once.
type reqID struct {
	Hi uint64 `msgpack:"h"`
	Lo uint64 `msgpack:"l"`
}

// command is one write. Fields an op does not use are left zero.
type command struct {
	Version     uint8            `msgpack:"v"`
	Op          op               `msgpack:"o"`
	Req         reqID            `msgpack:"r"`
	Name        string           `msgpack:"n,omitempty"`
	Owner       transport.PID    `msgpack:"p,omitempty"`
	Meta        []byte           `msgpack:"m,omitempty"`
	Node        transport.NodeID `msgpack:"nd,omitempty"`
	Incarnation uint64           `msgpack:"i,omitempty"`
	Force       bool             `msgpack:"f,omitempty"` // opUnregister: any owner
	Except      bool             `msgpack:"x,omitempty"` // opPurge: all incarnations but Incarnation
	Reason      Reason           `msgpack:"rs,omitempty"`
}

// result is the outcome of one command, as stored in the dedup table and
// sent back over RPC.
type result struct {
	Code  errCode       `msgpack:"c"`
	Owner transport.PID `msgpack:"p,omitempty"` // current owner on codeAlreadyRegistered
	Fence uint64        `msgpack:"f,omitempty"`
	Index uint64        `msgpack:"i,omitempty"` // raft index the command was applied at
	Count int           `msgpack:"n,omitempty"` // names removed by purges
	Msg   string        `msgpack:"m,omitempty"` // text for codeOther
}

// err rebuilds the typed error a result stands for; name is the command's.
func (r result) err(name string) error {
	switch r.Code {
	case codeOK:
		return nil
	case codeAlreadyRegistered:
		return &AlreadyRegisteredError{Name: name, Owner: r.Owner, Fence: r.Fence}
	case codeOther:
		return fmt.Errorf("global: %s", r.Msg)
	}
	if e, ok := codeErrs[r.Code]; ok {
		if r.Msg != "" {
			return fmt.Errorf("%w: %s", e, r.Msg)
		}
		return e
	}
	return fmt.Errorf("global: unknown result code %d", r.Code)
}

// resultOf turns an error into a result.
func resultOf(err error) result {
	r := result{Code: codeOf(err)}
	var are *AlreadyRegisteredError
	if asAlready(err, &are) {
		r.Owner, r.Fence = are.Owner, are.Fence
	}
	if r.Code == codeOther && err != nil {
		r.Msg = err.Error()
	}
	return r
}

// encodeEntry encodes commands as one log entry.
func encodeEntry(cmds []command) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(1 + 64*len(cmds))
	buf.WriteByte(entryFormatBatch)
	enc := msgpack.NewEncoder(&buf)
	if err := enc.Encode(cmds); err != nil {
		return nil, fmt.Errorf("global: encode entry: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeEntry decodes a log entry written by encodeEntry.
func decodeEntry(data []byte) ([]command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrBadCommand)
	}
	if data[0] != entryFormatBatch {
		return nil, fmt.Errorf("%w: entry format %d", ErrUnsupportedVersion, data[0])
	}
	cmds, err := decodeArrayBytes[command](data[1:], maxEntryCommands)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	return cmds, nil
}

// validate checks a command's fields before it is sent and again in Apply
// (a command from a newer or broken writer must not corrupt the table).
func (c *command) validate() error {
	if c.Version == 0 || c.Version > commandVersion {
		return fmt.Errorf("%w: %d", ErrUnsupportedVersion, c.Version)
	}
	switch c.Op {
	case opRegister, opReRegister, opUpdateMeta:
		if err := ValidateName(c.Name); err != nil {
			return err
		}
		if err := validateMeta(c.Meta); err != nil {
			return err
		}
		return validateOwner(c.Owner)
	case opUnregister:
		if err := ValidateName(c.Name); err != nil {
			return err
		}
		if c.Force {
			return nil
		}
		return validateOwner(c.Owner)
	case opUnregisterPID:
		if err := validateOwner(c.Owner); err != nil {
			return err
		}
		return validateReason(c.Reason)
	case opPurge:
		if err := transport.ValidateNodeID(c.Node); err != nil {
			return fmt.Errorf("%w: %w", ErrBadCommand, err)
		}
		return validateReason(c.Reason)
	case opRevive:
		if err := transport.ValidateNodeID(c.Node); err != nil {
			return fmt.Errorf("%w: %w", ErrBadCommand, err)
		}
		if c.Incarnation == 0 {
			return fmt.Errorf("%w: zero incarnation", ErrBadCommand)
		}
		return nil
	}
	return fmt.Errorf("%w: op %d", ErrBadCommand, c.Op)
}
