package node

import (
	"errors"
	"fmt"

	"github.com/roster-dev/roster/local"
)

// Errors returned by the node. Compare with errors.Is; most are wrapped with
// the offending pid, name or cause.
var (
	// ErrNoProc: the pid names no live process (it exited, never existed,
	// belongs to an older incarnation of its node, or is the zero PID).
	ErrNoProc = errors.New("node: no such process")
	// ErrBadDest: a Dest of a type Send does not understand.
	ErrBadDest = errors.New("node: bad destination")
	// ErrNotFound: no process is registered under the name: a local Name,
	// a RemoteName on this node, or a Global name. It is local.ErrNotFound
	// (and global.ErrNotFound), Roster's one not-found error.
	ErrNotFound = local.ErrNotFound
	// ErrMailboxFull: the receiver's bounded mailbox (policy DropNewest) is full.
	ErrMailboxFull = errors.New("node: mailbox full")
	// ErrNoRoute: the destination is on another node and there is no
	// transport, or the transport does not know the peer.
	ErrNoRoute = errors.New("node: no route to node")
	// ErrShutdown: the node is shutting down or has shut down.
	ErrShutdown = errors.New("node: shut down")
	// ErrNilFunc: a nil function was passed where one is required.
	ErrNilFunc = errors.New("node: nil function")
	// ErrNoGlobal: a global name was used but no global name table is wired in.
	ErrNoGlobal = errors.New("node: global names not configured")
	// ErrExited: the calling process has exited; it can no longer receive,
	// send, link or monitor.
	ErrExited = errors.New("node: process exited")
	// ErrNotLocal: the operation needs a process of this node.
	ErrNotLocal = errors.New("node: pid is not local")
	// ErrEncode: a message body could not be msgpack-encoded for a remote send.
	ErrEncode = errors.New("node: cannot encode message")
	// ErrDecode: Message.Decode could not decode the body into the target,
	// or (logged, the message dropped) a body from another node was not
	// valid msgpack or did not decode into its registered type.
	ErrDecode = errors.New("node: cannot decode message")
	// ErrUnknownType: a message from another node named a type this node
	// has not registered (see RegisterType); it was dropped and logged.
	ErrUnknownType = errors.New("node: message type not registered")
	// ErrTypeRegistered: RegisterType was given a name already used by
	// another type, or a type already registered under another name.
	ErrTypeRegistered = errors.New("node: message type already registered")
	// ErrBadType: RegisterType cannot register this type or name.
	ErrBadType = errors.New("node: cannot register message type")
	// ErrBadConfig: Config.Validate found a bad field.
	ErrBadConfig = errors.New("node: invalid config")
	// ErrSelf: a process tried to link to or monitor itself.
	ErrSelf = errors.New("node: process cannot target itself")
	// ErrNoHandler: an RPC arrived for which no RequestHandler is set.
	ErrNoHandler = errors.New("node: no request handler")
	// ErrStaleFence: a message sent by global name carried a fence older
	// than the name's current registration.
	ErrStaleFence = errors.New("node: stale fence")
	// ErrNotCall: Reply was given a ReplyTo that answers no call (the zero
	// value, e.g. from a message that is not a call).
	ErrNotCall = errors.New("node: not a call")
	// ErrChanClosed: the channel ReceiveOr waited on was closed.
	ErrChanClosed = errors.New("node: channel closed")
)

// PanicError is the exit reason of a process whose function panicked. The
// panic is recovered so that one process cannot crash the node.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("node: process panicked: %v", e.Value) }
