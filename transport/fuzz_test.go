package transport

import (
	"bytes"
	"io"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzDecodeFrame feeds arbitrary bytes to the frame splitter and every
// body decoder. They must never panic or read past their input, and a body
// that decodes must re-encode to something that decodes to the same value.
// The seed corpus (f.Add) runs in plain `go test`.
func FuzzDecodeFrame(f *testing.F) {
	for _, env := range sampleEnvelopes()[:6] {
		b, _ := appendEnvelope(nil, env, DefaultMaxFrameSize)
		f.Add(b)
	}
	b, _ := appendRequest(nil, &requestMsg{ID: 1, Method: "m", Deadline: 5, Body: []byte("x")}, DefaultMaxFrameSize)
	f.Add(b)
	b, _ = appendResponse(nil, &responseMsg{ID: 1, Error: "e"}, DefaultMaxFrameSize)
	f.Add(b)
	f.Add(appendCancel(nil, 3))
	b, _ = appendMsgpack(nil, frameHello, newHello(testConfigNoLog("a")), maxHandshakeFrame)
	f.Add(b)
	f.Add([]byte{0, 0, 0, 3, 5, 0x81, 0xc1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxFrame = 1 << 16
		for rest := data; len(rest) > 0; {
			ft, body, next, err := splitFrame(rest, maxFrame)
			if err != nil {
				return
			}
			rest = next
			switch ft {
			case frameEnvelope:
				checkEnvelopeRoundTrip(t, body)
			case frameRequest, frameResponse, frameCancel:
				var m requestMsg
				var e string
				_ = decodeRPC(body, &m, &e)
			case frameHello:
				var h helloMsg
				_ = decodeMsgpack(body, &h)
			}
		}
	})
}

func checkEnvelopeRoundTrip(t *testing.T, body []byte) {
	var env Envelope
	if err := decodeEnvelope(body, &env, &interner{}, false); err != nil {
		return
	}
	frame, err := appendEnvelope(nil, &env, 1<<20)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	_, again, _, err := splitFrame(frame, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var env2 Envelope
	if err := decodeEnvelope(again, &env2, &interner{}, false); err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	if !reflect.DeepEqual(env, env2) {
		t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, env2)
	}
	var lib Envelope
	if err := msgpack.Unmarshal(again, &lib); err != nil || !reflect.DeepEqual(lib, env) {
		t.Fatalf("library disagrees on our encoding: %+v %v", lib, err)
	}
}

func testConfigNoLog(id NodeID) *Config {
	c := DefaultConfig()
	c.NodeID, c.Incarnation = id, 1
	return &c
}

// FuzzDecodeHandshake feeds arbitrary bytes to the acceptor's side of the
// handshake (what an unauthenticated stranger controls). It must fail
// cleanly, never panic, and never admit a peer without the cluster key.
func FuzzDecodeHandshake(f *testing.F) {
	cfg := testConfigNoLog("srv")
	cfg.ClusterKey = []byte("0123456789abcdef0123456789abcdef")
	hello, _ := appendMsgpack(nil, frameHello, newHello(testConfigNoLog("cli")), maxHandshakeFrame)
	auth, _ := appendMsgpack(nil, frameAuth, &authMsg{Proof: make([]byte, 32), Node: "cli", Incarnation: 1, Want: "srv"}, maxHandshakeFrame)
	f.Add(hello)
	f.Add(append(append([]byte{}, hello...), auth...))
	f.Add([]byte{0, 0, 0, 2, byte(frameHello), 0x80})
	f.Add([]byte{0, 0, 16, 0, byte(frameHello)})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &handshakeIO{w: io.Discard, fr: newFrameReader(bytes.NewReader(data), cfg.MaxFrameSize)}
		if peer, err := acceptHandshake(cfg, h); err == nil {
			t.Fatalf("admitted %+v without knowing the key", peer)
		}
	})
}

// FuzzDialHandshake feeds arbitrary bytes to the dialer's side of the
// handshake (what a listener without the key controls). It must fail
// cleanly, never panic, and never send our node id or incarnation.
func FuzzDialHandshake(f *testing.F) {
	cfg := testConfigNoLog("secret-dialer")
	cfg.Incarnation = 0x1122334455667788
	cfg.ClusterKey = []byte("0123456789abcdef0123456789abcdef")
	for _, key := range [][]byte{nil, []byte("another key, also 32 bytes long!")} {
		acc := testConfigNoLog("srv")
		acc.ClusterKey = key
		h := newHello(acc)
		h.Proof = make([]byte, 32)
		b, _ := appendMsgpack(nil, frameHello, h, maxHandshakeFrame)
		accept, _ := appendMsgpack(nil, frameAccept, &acceptMsg{Node: "srv", Incarnation: 2}, maxHandshakeFrame)
		f.Add(append(b, accept...))
	}
	f.Add([]byte{0, 0, 0, 2, byte(frameRefuse), 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var sent bytes.Buffer
		h := &handshakeIO{w: &sent, fr: newFrameReader(bytes.NewReader(data), cfg.MaxFrameSize)}
		if peer, err := dialHandshake(cfg, h, "srv", 0, 1); err == nil {
			t.Fatalf("reached %+v without it knowing the key", peer)
		}
		if leaks(sent.Bytes(), cfg) {
			t.Fatalf("dialer revealed its identity: %q", sent.Bytes())
		}
	})
}
