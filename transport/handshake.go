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
// acceptor A, optional shared key K). Neither side says who it is before
// the other has proven K: a stranger learns the protocol version, the
// cluster id and a MAC over nonces, never a node id or incarnation (from
// which PIDs could be guessed).
//
//	D -> A  hello{version, cluster, nonceD}
//	A -> D  hello{version, cluster, nonceA,
//	              proof = HMAC-SHA256(K, "acceptor" | cluster | nonceD | nonceA)}
//	D -> A  auth{node, incarnation, gen, want, wantInc,
//	             proof = HMAC-SHA256(K, "dialer" | cluster | nonceD | nonceA | D's identity | want)}
//	A -> D  accept{node, incarnation,
//	               proof = HMAC-SHA256(K, "accepted" | ... | D's identity | A's identity)}
//
// D sends its identity only after checking A's proof; A sends its identity
// only after checking D's. Both nonces are in every MAC, so a proof cannot be
// replayed on another connection, and each MAC names its role, so one side's
// proof is never valid as the other's. want and wantInc are the node D meant
// to reach (wantInc 0: any incarnation); A refuses if that is not itself.
// Without a key proofs are empty and identities are exchanged the same way.
// Either side that finds a wrong version, cluster, identity or proof sends
// refuse{code, reason}, logs the reason and closes.

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

// Proof roles: each MAC names the step it authenticates.
const (
	roleAcceptor = "acceptor"
	roleDialer   = "dialer"
	roleAccepted = "accepted"
)

// identity is who a peer is, learnt once it has proven the key.
type identity struct {
	Node        NodeID
	Incarnation uint64
	Gen         uint64 // the dialer's connection number (zero for an acceptor)
}

func newHello(cfg *Config) *helloMsg {
	nonce := make([]byte, nonceLen)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return &helloMsg{Version: ProtocolVersion, Cluster: cfg.ClusterID, Nonce: nonce}
}

// checkHello validates a peer's hello against our config; it returns the
// refuse code and error.
func checkHello(cfg *Config, h *helloMsg) (string, error) {
	switch {
	case h.Version != ProtocolVersion:
		return refuseVersion, fmt.Errorf("%w: peer speaks %d, we speak %d", ErrVersionMismatch, h.Version, ProtocolVersion)
	case h.Cluster != cfg.ClusterID:
		return refuseCluster, fmt.Errorf("%w: peer is in %q, we are in %q", ErrWrongCluster, h.Cluster, cfg.ClusterID)
	case len(h.Nonce) != nonceLen:
		return refusePeer, fmt.Errorf("%w: malformed hello (nonce of %d bytes)", ErrWrongPeer, len(h.Nonce))
	}
	return "", nil
}

// checkIdentity validates the identity a proven peer announced.
func checkIdentity(cfg *Config, node NodeID, inc uint64) error {
	switch {
	case ValidateNodeID(node) != nil || inc == 0:
		return fmt.Errorf("%w: malformed identity %q (incarnation %d)", ErrWrongPeer, node, inc)
	case node == cfg.NodeID:
		return fmt.Errorf("%w: peer claims our own node id %q", ErrWrongPeer, node)
	}
	return nil
}

// transcript is what a proof covers: the cluster, both nonces and, from
// the auth step on, the identities exchanged so far.
type transcript struct {
	cluster        string
	nonceD, nonceA []byte
	ids            []identity
	want           identity // the node the dialer meant to reach (auth and later)
}

// handshakeProof is the HMAC a side sends for role; empty without a key.
func handshakeProof(key []byte, role string, tr *transcript) []byte {
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
	num := func(v uint64) { field(binary.BigEndian.AppendUint64(nil, v)) }
	field([]byte("roster-transport/" + role))
	field([]byte(tr.cluster))
	field(tr.nonceD)
	field(tr.nonceA)
	if role != roleAcceptor {
		field([]byte(tr.want.Node))
		num(tr.want.Incarnation)
	}
	for _, id := range tr.ids {
		field([]byte(id.Node))
		num(id.Incarnation)
		num(id.Gen)
	}
	return m.Sum(nil)
}

// checkProof verifies a peer's proof for role in constant time, against
// every key of our ring (a proof by any installed key is accepted).
func checkProof(keys [][]byte, role string, tr *transcript, got []byte) error {
	if len(keys) == 0 && len(got) == 0 {
		return nil
	}
	if _, ok := matchKey(keys, got, func(k []byte) []byte { return handshakeProof(k, role, tr) }); !ok || len(got) == 0 {
		return fmt.Errorf("%w: %s proof does not match our key", ErrBadAuth, role)
	}
	return nil
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
	if _, err = h.w.Write(b); err != nil {
		return fmt.Errorf("transport: handshake write: %w", err)
	}
	return nil
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
func dialHandshake(cfg *Config, h *handshakeIO, want NodeID, wantInc, gen uint64) (*identity, error) {
	mine := newHello(cfg)
	if err := h.send(frameHello, mine); err != nil {
		return nil, err
	}
	var theirs helloMsg
	if err := h.recv(frameHello, &theirs); err != nil {
		return nil, err
	}
	if code, err := checkHello(cfg, &theirs); err != nil {
		return nil, h.refuse(code, err)
	}
	tr := &transcript{cluster: cfg.ClusterID, nonceD: mine.Nonce, nonceA: theirs.Nonce}
	if err := checkProof(cfg.keys(), roleAcceptor, tr, theirs.Proof); err != nil {
		return nil, h.refuse(refuseAuth, err)
	}
	// The acceptor knows the key: now we may say who we are.
	me := identity{Node: cfg.NodeID, Incarnation: cfg.Incarnation, Gen: gen}
	tr.want = identity{Node: want, Incarnation: wantInc}
	tr.ids = []identity{me}
	auth := &authMsg{Node: me.Node, Incarnation: me.Incarnation, Gen: gen, Want: want, WantInc: wantInc,
		Proof: handshakeProof(cfg.primaryKey(), roleDialer, tr)}
	if err := h.send(frameAuth, auth); err != nil {
		return nil, err
	}
	var acc acceptMsg
	if err := h.recv(frameAccept, &acc); err != nil {
		return nil, err
	}
	peer := identity{Node: acc.Node, Incarnation: acc.Incarnation}
	tr.ids = append(tr.ids, peer)
	if err := checkProof(cfg.keys(), roleAccepted, tr, acc.Proof); err != nil {
		return nil, h.refuse(refuseAuth, err)
	}
	if peer.Node != want || (wantInc != 0 && peer.Incarnation != wantInc) {
		return nil, h.refuse(refusePeer, fmt.Errorf("%w: dialled %s (incarnation %d), reached %s (incarnation %d)",
			ErrWrongPeer, want, wantInc, peer.Node, peer.Incarnation))
	}
	return &peer, nil
}

// acceptHandshake runs the acceptor's side.
func acceptHandshake(cfg *Config, h *handshakeIO) (*identity, error) {
	var theirs helloMsg
	if err := h.recv(frameHello, &theirs); err != nil {
		return nil, err
	}
	if code, err := checkHello(cfg, &theirs); err != nil {
		return nil, h.refuse(code, err)
	}
	mine := newHello(cfg)
	tr := &transcript{cluster: cfg.ClusterID, nonceD: theirs.Nonce, nonceA: mine.Nonce}
	mine.Proof = handshakeProof(cfg.primaryKey(), roleAcceptor, tr)
	if err := h.send(frameHello, mine); err != nil {
		return nil, err
	}
	var auth authMsg
	if err := h.recv(frameAuth, &auth); err != nil {
		return nil, err
	}
	peer := identity{Node: auth.Node, Incarnation: auth.Incarnation, Gen: auth.Gen}
	tr.want = identity{Node: auth.Want, Incarnation: auth.WantInc}
	tr.ids = []identity{peer}
	if err := checkProof(cfg.keys(), roleDialer, tr, auth.Proof); err != nil {
		return nil, h.refuse(refuseAuth, err)
	}
	// The dialer knows the key: its identity is trustworthy and we may
	// reveal ours.
	if err := checkIdentity(cfg, peer.Node, peer.Incarnation); err != nil {
		return nil, h.refuse(refusePeer, err)
	}
	if auth.Want != cfg.NodeID || (auth.WantInc != 0 && auth.WantInc != cfg.Incarnation) {
		return nil, h.refuse(refusePeer, fmt.Errorf("%w: dialled %s (incarnation %d), reached %s (incarnation %d)",
			ErrWrongPeer, auth.Want, auth.WantInc, cfg.NodeID, cfg.Incarnation))
	}
	me := identity{Node: cfg.NodeID, Incarnation: cfg.Incarnation}
	tr.ids = append(tr.ids, me)
	acc := &acceptMsg{Node: me.Node, Incarnation: me.Incarnation, Proof: handshakeProof(cfg.primaryKey(), roleAccepted, tr)}
	if err := h.send(frameAccept, acc); err != nil {
		return nil, err
	}
	return &peer, nil
}
