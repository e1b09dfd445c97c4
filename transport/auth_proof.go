package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The stream proof authenticates a raw byte stream (Raft's) before its
// owner reads a byte from it. Acceptor A, dialer D, keyring K (any key of
// A's ring may match; D proves with its primary):
//
//	A -> D  nonceA                                          (32 bytes)
//	D -> A  version(1) | len(1) node | len(1) cluster | nonceD(32) |
//	        proofD = HMAC-SHA256(k, "roster-stream/dialer" | transcript)
//	A -> D  proofA = HMAC-SHA256(k, "roster-stream/acceptor" | transcript)
//
// transcript is the version, cluster id, D's node id and both nonces, each
// length-prefixed. The acceptor says nothing but a random nonce until the
// dialer has proved the key: a connection that fails the proof is closed
// without a word (no node id, no term, no reason on the wire; the reason is
// logged locally). The dialer proves first, and with its own fresh nonce in
// the MAC, so neither proof can be replayed on another connection or
// reflected to the other role. Without any key the proofs are HMACs under
// an empty key: they still check version and cluster id, and
// authenticate nothing (mutual TLS, when configured, then does).

// StreamVersion is the stream proof's protocol version; bump it when the
// layout above changes.
const StreamVersion = 1

const (
	streamNonceLen = 32
	streamProofLen = sha256.Size
)

// errStreamRefused is what a dialer sees when the acceptor closes without
// its proof: wrong key, cluster id or version (the acceptor does not say
// which; its log does).
var errStreamRefused = errors.New("transport: stream proof refused by the acceptor (wrong key, cluster id or version?)")

// streamHello is the dialer's claim, read by the acceptor.
type streamHello struct {
	version uint8
	node    NodeID
	cluster string
	nonceD  []byte
	proof   []byte
}

func streamMAC(key []byte, role string, version uint8, cluster string, node NodeID, nonceA, nonceD []byte) []byte {
	m := hmac.New(sha256.New, key)
	field := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		m.Write(l[:])
		m.Write(b)
	}
	field([]byte("roster-stream/" + role))
	field([]byte{version})
	field([]byte(cluster))
	field([]byte(node))
	field(nonceA)
	field(nonceD)
	return m.Sum(nil)
}

// matchKey returns the key of keys under which proof is valid, comparing
// in constant time against every key (nil, false when none matches). An
// empty ring matches the empty key.
func matchKey(keys [][]byte, proof []byte, mac func(key []byte) []byte) ([]byte, bool) {
	if len(keys) == 0 {
		keys = [][]byte{nil}
	}
	var found []byte
	ok := false
	for _, k := range keys {
		if hmac.Equal(mac(k), proof) && !ok {
			found, ok = k, true
		}
	}
	return found, ok
}

func newStreamNonce() []byte {
	b := make([]byte, streamNonceLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// encodeStreamHello appends the dialer's message.
func encodeStreamHello(h *streamHello) []byte {
	b := make([]byte, 0, 3+len(h.node)+len(h.cluster)+streamNonceLen+streamProofLen)
	b = append(b, h.version, byte(len(h.node)))
	b = append(b, h.node...)
	b = append(b, byte(len(h.cluster)))
	b = append(b, h.cluster...)
	b = append(b, h.nonceD...)
	return append(b, h.proof...)
}

// readStreamHello reads the dialer's message, reading exactly its bytes.
func readStreamHello(r io.Reader) (*streamHello, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	h := &streamHello{version: hdr[0]}
	node := make([]byte, int(hdr[1])+1) // node id and the cluster id's length
	if _, err := io.ReadFull(r, node); err != nil {
		return nil, err
	}
	h.node = NodeID(node[:hdr[1]])
	rest := make([]byte, int(node[hdr[1]])+streamNonceLen+streamProofLen)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	cl := len(rest) - streamNonceLen - streamProofLen
	h.cluster = string(rest[:cl])
	h.nonceD = rest[cl : cl+streamNonceLen]
	h.proof = rest[cl+streamNonceLen:]
	return h, nil
}

// streamParams is what one side of the proof needs.
type streamParams struct {
	cluster string
	node    NodeID // the dialer's own id (dialer side) or ours (acceptor, to refuse ourselves)
	keys    [][]byte
}

// streamAccept runs the acceptor's side on rw with nonceA. It returns the
// dialer's (now authenticated) node id. On error nothing more has been
// written: the caller closes the connection.
func streamAccept(rw io.ReadWriter, p *streamParams, nonceA []byte) (NodeID, error) {
	if _, err := rw.Write(nonceA); err != nil {
		return "", fmt.Errorf("transport: stream proof write: %w", err)
	}
	h, err := readStreamHello(rw)
	if err != nil {
		return "", fmt.Errorf("%w: stream proof read: %w", ErrHandshake, err)
	}
	switch {
	case h.version != StreamVersion:
		return "", fmt.Errorf("%w: peer speaks stream version %d, we speak %d", ErrVersionMismatch, h.version, StreamVersion)
	case h.cluster != p.cluster:
		return "", fmt.Errorf("%w: peer is in %q, we are in %q", ErrWrongCluster, h.cluster, p.cluster)
	case ValidateNodeID(h.node) != nil || h.node == p.node:
		return "", fmt.Errorf("%w: peer claims node id %q", ErrWrongPeer, h.node)
	}
	key, ok := matchKey(p.keys, h.proof, func(k []byte) []byte {
		return streamMAC(k, "dialer", h.version, h.cluster, h.node, nonceA, h.nonceD)
	})
	if !ok {
		return "", fmt.Errorf("%w: stream proof from %q matches none of our %d keys", ErrBadAuth, h.node, len(p.keys))
	}
	proofA := streamMAC(key, "acceptor", h.version, h.cluster, h.node, nonceA, h.nonceD)
	if _, err := rw.Write(proofA); err != nil {
		return "", fmt.Errorf("transport: stream proof write: %w", err)
	}
	return h.node, nil
}

// streamDial runs the dialer's side on rw with nonceD, proving with the
// primary key (p.keys[0]) and accepting the acceptor's proof by any key.
func streamDial(rw io.ReadWriter, p *streamParams, nonceD []byte) error {
	nonceA := make([]byte, streamNonceLen)
	if _, err := io.ReadFull(rw, nonceA); err != nil {
		return fmt.Errorf("%w: stream proof read: %w", ErrHandshake, err)
	}
	var primary []byte
	if len(p.keys) > 0 {
		primary = p.keys[0]
	}
	h := &streamHello{version: StreamVersion, node: p.node, cluster: p.cluster, nonceD: nonceD}
	h.proof = streamMAC(primary, "dialer", h.version, h.cluster, h.node, nonceA, nonceD)
	if _, err := rw.Write(encodeStreamHello(h)); err != nil {
		return fmt.Errorf("transport: stream proof write: %w", err)
	}
	proofA := make([]byte, streamProofLen)
	if _, err := io.ReadFull(rw, proofA); err != nil {
		return fmt.Errorf("%w: %w", ErrBadAuth, errStreamRefused)
	}
	if _, ok := matchKey(p.keys, proofA, func(k []byte) []byte {
		return streamMAC(k, "acceptor", h.version, h.cluster, h.node, nonceA, nonceD)
	}); !ok {
		return fmt.Errorf("%w: the acceptor's stream proof matches none of our keys", ErrBadAuth)
	}
	return nil
}
