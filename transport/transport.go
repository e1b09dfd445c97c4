package transport

import (
	"context"
)

// Transport carries messages, signals and RPCs between nodes. Implementations:
// TCPTransport (msgpack over TCP, optional TLS) and InmemTransport (tests).
//
// Ordering: envelopes sent from one node to one peer are delivered in the
// order Send was called (from a single goroutine), at most once.
//
// All methods may be called from any goroutine, including from inside
// Handler callbacks. Only Send and Call block (bounded by their ctx), and
// Close (until the transport's goroutines have exited).
type Transport interface {
	// LocalNode returns this node's id and incarnation.
	LocalNode() (NodeID, uint64)

	// SetHandler installs the receiver of inbound traffic. It must be called
	// before Start; traffic arriving with no handler is dropped.
	SetHandler(h Handler)

	// Start begins accepting connections.
	Start() error

	// SetPeer tells the transport where peer listens (host:port) and which
	// incarnation is expected there (0: any). Membership calls it when a peer
	// appears or changes address. Outbound connections are opened lazily.
	SetPeer(peer NodeID, addr string, incarnation uint64)

	// RemovePeer forgets peer: its connection closes, queued envelopes are
	// dropped, pending calls fail with a *PeerError, and the Handler hears
	// PeerDown.
	RemovePeer(peer NodeID)

	// Send queues env for peer. It returns once env is queued (not
	// delivered); env is encoded before Send returns, so the caller may
	// reuse it. When the peer's queue is full it blocks until there is
	// room or ctx is done (then it returns ctx's error). It fails fast with
	// ErrUnknownPeer, ErrTooLarge or ErrClosed, and with a *PeerError while
	// the peer is known to be unreachable (TCP: during the redial backoff;
	// in-memory: partitioned or down). Envelopes queued on a connection
	// that then breaks are dropped (at most once, never resent).
	Send(ctx context.Context, peer NodeID, env *Envelope) error

	// Call sends a request to peer and waits for the response, ctx's end, or
	// the connection's failure (a *PeerError). A cancelled call tells the
	// peer, which cancels the ctx passed to HandleRequest.
	Call(ctx context.Context, peer NodeID, method string, body []byte) ([]byte, error)

	// Close closes every connection and the listener. Idempotent.
	Close() error
}

// Handler receives inbound traffic.
type Handler interface {
	// HandleEnvelope is called from the connection's reader goroutine for
	// every inbound envelope, in order. It must not block: hand work off.
	// env, and the memory its Body points to, are valid only until it
	// returns (the transport decodes the next envelope into them, so that
	// receiving allocates nothing): copy what you keep.
	HandleEnvelope(from NodeID, env *Envelope)

	// HandleRequest serves an RPC. It is called on its own goroutine and may
	// block until ctx is done (the caller's deadline or cancellation, or the
	// connection's loss).
	HandleRequest(ctx context.Context, from NodeID, method string, body []byte) ([]byte, error)

	// PeerUp is called when a handshake with peer completes (in either
	// direction). PeerDown is called when the last connection to peer
	// breaks or the peer is removed, with the cause. Both may be called
	// from any goroutine and must not block.
	PeerUp(peer NodeID, incarnation uint64)
	PeerDown(peer NodeID, incarnation uint64, cause error)
}

// Kind says what an Envelope carries. It is on the wire: append only.
type Kind uint8

// Envelope kinds.
const (
	KindMessage   Kind = 1 // user message to pid To, or to local name ToName
	KindMonitor   Kind = 2 // From monitors To; Ref identifies the monitor
	KindDemonitor Kind = 3 // From removes monitor Ref on To
	KindDown      Kind = 4 // To's monitor Ref of From fired with Reason
	KindLink      Kind = 5 // From links to To
	KindUnlink    Kind = 6 // From unlinks from To
	KindExit      Kind = 7 // exit signal from From to To with Reason
	// KindCall is a request from From to pid To (or local name ToName) that
	// also monitors the callee with reference Ref (the caller's alias) until
	// it is answered; GlobalName and Fence as for KindMessage. The callee's
	// node answers a missing or stale callee with KindDown.
	KindCall Kind = 8
	// KindReply answers the call Ref of process To; From is the replier.
	// The receiving node drops it unless the alias Ref is still active.
	KindReply Kind = 9
)

// Envelope is one message or signal between processes on different nodes.
// Fields that a kind does not use are left zero.
type Envelope struct {
	Kind   Kind   `msgpack:"k"`
	From   PID    `msgpack:"f"`
	To     PID    `msgpack:"t"`
	ToName string `msgpack:"tn,omitempty"` // KindMessage to a local name on the peer (To is zero)
	Ref    uint64 `msgpack:"r,omitempty"`  // monitor reference
	Reason Reason `msgpack:"rs,omitempty"` // KindDown, KindExit
	// GlobalName and Fence are set on a message sent by global name: the
	// receiving node drops it when the name's current registration is newer
	// than Fence.
	GlobalName string `msgpack:"gn,omitempty"`
	Fence      uint64 `msgpack:"fc,omitempty"`
	// Body is the msgpack encoding of the user's message.
	Body []byte `msgpack:"b,omitempty"`
	// Type names the Go type of the message in Body when the sender
	// registered that type (node.RegisterType), so that the receiver decodes
	// it into the same type; empty for other values, which receivers
	// decode generically.
	Type string `msgpack:"ty,omitempty"`
}

// Reason is an exit reason on the wire. Code is one of "normal", "killed",
// "noproc", "noconnection", "nodedown", "name_lost", "shutdown", or "error"
// with Message holding the error's text.
type Reason struct {
	Code    string `msgpack:"c"`
	Message string `msgpack:"m,omitempty"`
}

// TrySender is implemented by transports that can queue without blocking
// (both TCPTransport and InmemTransport): TrySend is Send that returns
// ErrQueueFull at once when the peer's queue is full.
type TrySender interface {
	TrySend(peer NodeID, env *Envelope) error
}
