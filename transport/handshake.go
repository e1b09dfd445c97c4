package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Handshake, on every connection, before any other frame (dialer D,
// acceptor A, optional shared key K):
//
//	D -> A  hello{version, cluster, node, incarnation, nonceD}
//	A -> D  hello{version, cluster, node, incarnation, nonceA,
//	              proof = HMAC-SHA256(K, "acceptor" | transcript)}
//	D -> A  auth{proof = HMAC-SHA256(K, "dialer" | transcript)}
//	A -> D  accept{}
//
// transcript binds the cluster id, both node ids and incarnations and both
// nonces, so a proof cannot be replayed on another connection. Without a key
// proofs are empty. Either side that finds a wrong version, cluster, identity
// or proof sends refuse{code, reason}, logs the reason and closes.

// refuse codes on the wire.
const (
	refuseVersion = "version"
	refuseCluster = "cluster"
	refuseAuth    = "auth"
	refusePeer    = "peer"
)

var refuseErrs = map[string]error{
	refuseVersion: ErrVersionMismatch,
	refuseCluster: ErrWrongCluster,
	refuseAuth:    ErrBadAuth,
	refusePeer:    ErrWrongPeer,
}

// nonceLen is the size of handshake nonces, in bytes.
const nonceLen = 16

func newHello(cfg *Config) *helloMsg {
	nonce := make([]byte, nonceLen)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return &helloMsg{Version: ProtocolVersion, Cluster: cfg.ClusterID, Node: cfg.NodeID,
		Incarnation: cfg.Incarnation, Nonce: nonce}
}

// checkHello validates a peer's hello against our config; it returns the
// refuse code and error.
func checkHello(cfg *Config, h *helloMsg) (string, error) {
	switch {
	case h.Version != ProtocolVersion:
		return refuseVersion, fmt.Errorf("%w: peer speaks %d, we speak %d", ErrVersionMismatch, h.Version, ProtocolVersion)
	case h.Cluster != cfg.ClusterID:
		return refuseCluster, fmt.Errorf("%w: peer is in %q, we are in %q", ErrWrongCluster, h.Cluster, cfg.ClusterID)
	case ValidateNodeID(h.Node) != nil || h.Incarnation == 0 || len(h.Nonce) != nonceLen:
		return refusePeer, fmt.Errorf("%w: malformed hello from %q", ErrWrongPeer, h.Node)
	case h.Node == cfg.NodeID:
		return refusePeer, fmt.Errorf("%w: peer claims our own node id %q", ErrWrongPeer, h.Node)
	}
	return "", nil
}

// handshakeProof is the HMAC a side sends; empty without a key.
func handshakeProof(key []byte, role string, d, a *helloMsg) []byte {
	if len(key) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, key)
	field := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		m.Write(l[:])
		m.Write(b)
	}
	field([]byte("roster-transport/" + role))
	field([]byte(d.Cluster))
	for _, h := range [...]*helloMsg{d, a} {
		field([]byte(h.Node))
		field(binary.BigEndian.AppendUint64(nil, h.Incarnation))
		field(h.Nonce)
	}
	return m.Sum(nil)
}

// checkProof verifies a peer's proof in constant time.
func checkProof(key []byte, role string, d, a *helloMsg, got []byte) error {
	want := handshakeProof(key, role, d, a)
	if len(want) == 0 && len(got) == 0 {
		return nil
	}
	if !hmac.Equal(want, got) {
		return fmt.Errorf("%w: %s proof from %s does not match our key", ErrBadAuth, role, nodeOf(role, d, a))
	}
	return nil
}

func nodeOf(role string, d, a *helloMsg) NodeID {
	if role == "dialer" {
		return d.Node
	}
	return a.Node
}

// handshakeIO sends and receives handshake frames on one stream.
type handshakeIO struct {
	w  io.Writer
	fr *frameReader
}

func (h *handshakeIO) send(t frameType, v any) error {
	b, err := appendMsgpack(nil, t, v, maxHandshakeFrame)
	if err != nil {
		return err
	}
	_, err = h.w.Write(b)
	return err
}

// refuse tells the peer why (best effort) and returns err.
func (h *handshakeIO) refuse(code string, err error) error {
	_ = h.send(frameRefuse, &refuseMsg{Code: code, Reason: err.Error()})
	return err
}

// recv reads the next frame, which must be of type want (or a refusal,
// turned into the matching error) and decodes it into v.
func (h *handshakeIO) recv(want frameType, v any) error {
	saved := h.fr.maxFrame
	h.fr.maxFrame = maxHandshakeFrame
	t, body, _, err := h.fr.next()
	h.fr.maxFrame = saved
	if err != nil {
		return fmt.Errorf("transport: handshake read: %w", err)
	}
	if t == frameRefuse {
		var r refuseMsg
		if err := decodeMsgpack(body, &r); err != nil {
			return err
		}
		base, ok := refuseErrs[r.Code]
		if !ok {
			base = ErrHandshake
		}
		return fmt.Errorf("%w: refused by peer: %s", base, r.Reason)
	}
	if t != want {
		return fmt.Errorf("%w: handshake expected frame type %d, got %d", ErrBadFrame, want, t)
	}
	return decodeMsgpack(body, v)
}

// dialHandshake runs the dialer's side. want and wantInc (0: any) are the
// identity we expect at the address; gen numbers this connection.
func dialHandshake(cfg *Config, h *handshakeIO, want NodeID, wantInc, gen uint64) (*helloMsg, error) {
	mine := newHello(cfg)
	mine.Gen = gen
	if err := h.send(frameHello, mine); err != nil {
		return nil, fmt.Errorf("transport: handshake write: %w", err)
	}
	var theirs helloMsg
	if err := h.recv(frameHello, &theirs); err != nil {
		return nil, err
	}
	if code, err := checkHello(cfg, &theirs); err != nil {
		return nil, h.refuse(code, err)
	}
	if theirs.Node != want || (wantInc != 0 && theirs.Incarnation != wantInc) {
		return nil, h.refuse(refusePeer, fmt.Errorf("%w: dialled %s (incarnation %d), reached %s (incarnation %d)",
			ErrWrongPeer, want, wantInc, theirs.Node, theirs.Incarnation))
	}
	if err := checkProof(cfg.ClusterKey, "acceptor", mine, &theirs, theirs.Proof); err != nil {
		return nil, h.refuse(refuseAuth, err)
	}
	if err := h.send(frameAuth, &authMsg{Proof: handshakeProof(cfg.ClusterKey, "dialer", mine, &theirs)}); err != nil {
		return nil, fmt.Errorf("transport: handshake write: %w", err)
	}
	if err := h.recv(frameAccept, &struct{}{}); err != nil {
		return nil, err
	}
	return &theirs, nil
}

// acceptHandshake runs the acceptor's side.
func acceptHandshake(cfg *Config, h *handshakeIO) (*helloMsg, error) {
	var theirs helloMsg
	if err := h.recv(frameHello, &theirs); err != nil {
		return nil, err
	}
	if code, err := checkHello(cfg, &theirs); err != nil {
		return nil, h.refuse(code, err)
	}
	mine := newHello(cfg)
	mine.Proof = handshakeProof(cfg.ClusterKey, "acceptor", &theirs, mine)
	if err := h.send(frameHello, mine); err != nil {
		return nil, fmt.Errorf("transport: handshake write: %w", err)
	}
	var auth authMsg
	if err := h.recv(frameAuth, &auth); err != nil {
		return nil, err
	}
	if err := checkProof(cfg.ClusterKey, "dialer", &theirs, mine, auth.Proof); err != nil {
		return nil, h.refuse(refuseAuth, err)
	}
	if err := h.send(frameAccept, &struct{}{}); err != nil {
		return nil, fmt.Errorf("transport: handshake write: %w", err)
	}
	return &theirs, nil
}
