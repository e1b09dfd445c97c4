package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// leaks reports whether b contains the node id or the incarnation (as
// msgpack writes it: big endian after a uint64 marker) of cfg.
func leaks(b []byte, cfg *Config) bool {
	inc := binary.BigEndian.AppendUint64(nil, cfg.Incarnation)
	return bytes.Contains(b, []byte(cfg.NodeID)) || bytes.Contains(b, inc)
}

// TestStrangerLearnsNoIdentity: a dialer without the key gets the
// acceptor's hello and a refusal, and neither names the node or its
// incarnation.
func TestStrangerLearnsNoIdentity(t *testing.T) {
	cfg := testConfig(t, "secret-node", 0x1234567890abcdef)
	srv, rs := startTCP(t, cfg)
	nc := rawPeer(t, srv, false)
	stranger := testConfig(t, "stranger", 7)
	stranger.ClusterKey = []byte("not the key, not the key, not it")
	var seen bytes.Buffer
	h := &handshakeIO{w: nc, fr: newFrameReader(io.TeeReader(nc, &seen), 1<<20)}
	_, err := dialHandshake(stranger, h, "secret-node", 0, 1)
	if !errors.Is(err, ErrBadAuth) {
		t.Fatalf("want ErrBadAuth (the acceptor's proof cannot match), got %v", err)
	}
	// Also try a forged auth after a valid-looking hello.
	nc2 := rawPeer(t, srv, false)
	h2 := &handshakeIO{w: nc2, fr: newFrameReader(io.TeeReader(nc2, &seen), 1<<20)}
	if err := h2.send(frameHello, newHello(stranger)); err != nil {
		t.Fatal(err)
	}
	var reply helloMsg
	if err := h2.recv(frameHello, &reply); err != nil {
		t.Fatal(err)
	}
	if err := h2.send(frameAuth, &authMsg{Proof: make([]byte, 32), Node: "stranger", Incarnation: 7, Want: "secret-node"}); err != nil {
		t.Fatal(err)
	}
	if err := h2.recv(frameAccept, &acceptMsg{}); !errors.Is(err, ErrBadAuth) {
		t.Fatalf("forged auth: want ErrBadAuth, got %v", err)
	}
	expectClosed(t, nc2, 3*time.Second)
	if seen.Len() == 0 {
		t.Fatal("read nothing from the acceptor")
	}
	if leaks(seen.Bytes(), cfg) {
		t.Fatalf("acceptor revealed its identity to a stranger: %q", seen.Bytes())
	}
	if len(rs.eventList()) != 0 {
		t.Fatalf("stranger came up: %v", rs.eventList())
	}
}

// TestDialerRevealsNothingToImpostor: a listener without the key that
// answers our hello never learns who dialled it.
func TestDialerRevealsNothingToImpostor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		var seen bytes.Buffer
		impostor := testConfig(t, "impostor", 3)
		impostor.ClusterKey = []byte("a different key, 32 bytes long!!")
		_, _ = acceptHandshake(impostor, &handshakeIO{w: nc, fr: newFrameReader(io.TeeReader(nc, &seen), 1<<20)})
		_ = nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(&seen, nc) // anything more the dialer sends
		got <- seen.Bytes()
	}()
	cfg := testConfig(t, "shy-node", 0x0fedcba987654321)
	cli, _ := startTCP(t, cfg)
	cli.SetPeer("impostor", ln.Addr().String(), 0)
	if _, err := cli.Call(t.Context(), "impostor", "echo", nil); !errors.Is(err, ErrBadAuth) {
		t.Fatalf("want ErrBadAuth, got %v", err)
	}
	if b := <-got; leaks(b, cfg) {
		t.Fatalf("dialer revealed its identity before the acceptor proved the key: %q", b)
	}
}

// TestProofsAreBoundToRoleAndTranscript: a proof verifies only for its own
// role, nonces and identities.
func TestProofsAreBoundToRoleAndTranscript(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	base := transcript{cluster: "c", nonceD: bytes.Repeat([]byte{1}, nonceLen), nonceA: bytes.Repeat([]byte{2}, nonceLen),
		want: identity{Node: "a"}, ids: []identity{{Node: "d", Incarnation: 1, Gen: 1}}}
	proof := handshakeProof(key, roleDialer, &base)
	if err := checkProof([][]byte{key}, roleDialer, &base, proof); err != nil {
		t.Fatal(err)
	}
	variants := map[string]func(tr *transcript) string{
		"role":    func(*transcript) string { return roleAccepted },
		"cluster": func(tr *transcript) string { tr.cluster = "other"; return roleDialer },
		"nonce":   func(tr *transcript) string { tr.nonceA = bytes.Repeat([]byte{3}, nonceLen); return roleDialer },
		"identity": func(tr *transcript) string {
			tr.ids = []identity{{Node: "d", Incarnation: 2, Gen: 1}}
			return roleDialer
		},
		"want": func(tr *transcript) string { tr.want.Node = "b"; return roleDialer },
	}
	for name, change := range variants {
		tr := base
		role := change(&tr)
		if err := checkProof([][]byte{key}, role, &tr, proof); !errors.Is(err, ErrBadAuth) {
			t.Errorf("%s changed, proof still accepted (%v)", name, err)
		}
	}
}
