package transport

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrClosed is returned by every operation on a closed transport.
	ErrClosed = errors.New("transport: closed")
	// ErrUnknownPeer is returned by Send and Call for a peer that was never
	// given an address with SetPeer (or was removed).
	ErrUnknownPeer = errors.New("transport: unknown peer")
	// ErrTooLarge is returned when an encoded frame would exceed
	// Config.MaxFrameSize, and is the cause logged when a peer announces
	// one.
	ErrTooLarge = errors.New("transport: frame too large")
	// ErrQueueFull is returned by TrySend when the peer's queue is full.
	ErrQueueFull = errors.New("transport: peer queue full")
	// ErrBadFrame is the cause logged when a connection is closed because
	// a frame could not be decoded (truncated, unknown type, bad msgpack).
	ErrBadFrame = errors.New("transport: malformed frame")
	// ErrFlood is the cause logged when a peer exceeds the number of
	// requests it may have in flight on one connection.
	ErrFlood = errors.New("transport: peer exceeded in-flight request limit")
	// ErrConnLost is the cause carried by a *PeerError when an established
	// connection breaks.
	ErrConnLost = errors.New("transport: connection lost")
	// ErrIncarnationChanged is the cause passed to PeerDown when a peer
	// comes back with a new incarnation.
	ErrIncarnationChanged = errors.New("transport: peer incarnation changed")
	// ErrPeerRemoved is the cause passed to PeerDown and carried by a
	// *PeerError after RemovePeer.
	ErrPeerRemoved = errors.New("transport: peer removed")
	// ErrNotAccepting is returned by TCPTransport.Health while the accept
	// loop is backing off after failed Accepts (EMFILE...) or after its
	// listener closed: peers cannot reach this node.
	ErrNotAccepting = errors.New("transport: not accepting connections")
	// ErrBadConfig wraps every Config.Validate failure.
	ErrBadConfig = errors.New("transport: invalid config")

	// ErrHandshake is matched (errors.Is) by every handshake refusal below.
	ErrHandshake = errors.New("transport: handshake failed")
	// ErrVersionMismatch: the peer speaks another protocol version.
	ErrVersionMismatch error = &handshakeError{"transport: handshake: protocol version mismatch"}
	// ErrWrongCluster: the peer belongs to another cluster id.
	ErrWrongCluster error = &handshakeError{"transport: handshake: wrong cluster id"}
	// ErrBadAuth: the peer could not prove the shared cluster key (or one
	// side has a key and the other has none).
	ErrBadAuth error = &handshakeError{"transport: handshake: cluster key proof failed"}
	// ErrWrongPeer: the node at the dialled address is not the expected
	// node id or incarnation, or a node dialled itself.
	ErrWrongPeer error = &handshakeError{"transport: handshake: unexpected peer identity"}

	// errMsgpack is what mpReader returns for any malformed input;
	// decoders wrap it in ErrBadFrame.
	errMsgpack = errors.New("transport: invalid or truncated msgpack")
	// errUnreachable is the cause in a *PeerError when the in-memory
	// network cannot connect two nodes (no such node, partitioned, closed).
	errUnreachable = errors.New("transport: peer unreachable")
	// errSuperseded closes an inbound connection once the peer has opened
	// a newer one: whatever is still buffered on it is dropped, never
	// delivered after newer frames.
	errSuperseded = errors.New("transport: superseded by a newer connection from the peer")
	// errNoCerts: a CA file held no PEM certificate.
	errNoCerts = errors.New("transport: no certificates found")
)

// handshakeError is a handshake refusal; errors.Is(err, ErrHandshake) holds
// for every value.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string        { return e.msg }
func (e *handshakeError) Is(target error) bool { return target == ErrHandshake }

// PeerError reports that the connection to Peer could not be opened or was
// lost; Err says why (ErrConnLost, a handshake error, a dial error,
// ErrPeerRemoved, ErrClosed...). Pending calls to a failed peer return it.
type PeerError struct {
	Peer NodeID
	Err  error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("transport: peer %s: %v", e.Peer, e.Err)
}

// Unwrap returns the cause.
func (e *PeerError) Unwrap() error { return e.Err }

// RemoteError is returned by Call when the peer's Handler.HandleRequest
// returned an error; Msg is that error's text (errors do not cross the wire
// as values).
type RemoteError struct {
	Msg string
}

func (e *RemoteError) Error() string { return "transport: remote error: " + e.Msg }
