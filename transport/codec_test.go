package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// sampleEnvelopes covers every field, empty values and every length class
// of strings and binaries.
func sampleEnvelopes() []*Envelope {
	return []*Envelope{
		{Kind: KindMessage},
		{Kind: KindMessage, From: PID{"a", 1, 1}, To: PID{"b", 1 << 40, 1<<64 - 1}, Body: []byte{1, 2, 3}},
		{Kind: KindMessage, To: PID{}, ToName: "registry-key", Body: bytes.Repeat([]byte("z"), 300)},
		{Kind: KindMonitor, From: PID{"n1", 77, 5}, To: PID{"n2", 88, 6}, Ref: 42},
		{Kind: KindDown, From: PID{"n1", 77, 5}, To: PID{"n2", 88, 6}, Ref: 42, Reason: Reason{Code: "noconnection"}},
		{Kind: KindExit, Reason: Reason{Code: "error", Message: strings.Repeat("why ", 20)}},
		{Kind: KindMessage, GlobalName: "leader", Fence: 1 << 33, Body: bytes.Repeat([]byte{0xff}, 70000)},
		{Kind: KindMessage, To: PID{"b", 1, 2}, Body: []byte{0x80}, Type: "shop.Order"},
		{Kind: Kind(200), ToName: strings.Repeat("n", 40000)},
	}
}

// TestEnvelopeMatchesLibrary checks the hand-written codec against
// vmihailenco/msgpack both ways: our bytes decode with the library, and the
// library's bytes decode with ours.
func TestEnvelopeMatchesLibrary(t *testing.T) {
	for i, env := range sampleEnvelopes() {
		frame, err := appendEnvelope(nil, env, DefaultMaxFrameSize)
		if err != nil {
			t.Fatalf("%d: encode: %v", i, err)
		}
		ft, body, rest, err := splitFrame(frame, DefaultMaxFrameSize)
		if err != nil || ft != frameEnvelope || len(rest) != 0 {
			t.Fatalf("%d: split: %v %v %d", i, ft, err, len(rest))
		}
		var viaLib Envelope
		if err := msgpack.Unmarshal(body, &viaLib); err != nil {
			t.Fatalf("%d: library cannot decode our bytes: %v", i, err)
		}
		if !reflect.DeepEqual(&viaLib, env) {
			t.Fatalf("%d: library decoded %+v, want %+v", i, viaLib, env)
		}
		libBytes, err := msgpack.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		var ours Envelope
		if err := decodeEnvelope(libBytes, &ours, &interner{}, false); err != nil {
			t.Fatalf("%d: we cannot decode library bytes: %v", i, err)
		}
		if !reflect.DeepEqual(&ours, env) {
			t.Fatalf("%d: we decoded %+v, want %+v", i, ours, env)
		}
	}
}

// TestRPCFramesMatchLibrary does the same for request and response frames.
func TestRPCFramesMatchLibrary(t *testing.T) {
	req := &requestMsg{ID: 1 << 50, Method: "global.register", Deadline: 123456789, Body: []byte("payload")}
	frame, err := appendRequest(nil, req, DefaultMaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _, _ := splitFrame(frame, DefaultMaxFrameSize)
	var lib requestMsg
	if err := msgpack.Unmarshal(body, &lib); err != nil || !reflect.DeepEqual(&lib, req) {
		t.Fatalf("library decoded %+v, %v", lib, err)
	}
	resp := &responseMsg{ID: 7, Error: "nope"}
	frame, _ = appendResponse(nil, resp, DefaultMaxFrameSize)
	_, body, _, _ = splitFrame(frame, DefaultMaxFrameSize)
	var got requestMsg
	var errText string
	if err := decodeRPC(body, &got, &errText); err != nil || got.ID != 7 || errText != "nope" {
		t.Fatalf("response: %+v %q %v", got, errText, err)
	}
	// Unknown keys are skipped (forward compatibility).
	extra, _ := msgpack.Marshal(map[string]any{"i": 9, "zz": []any{1, "x", map[string]any{"y": 1.5}}, "m": "m"})
	got = requestMsg{}
	if err := decodeRPC(extra, &got, &errText); err != nil || got.ID != 9 || got.Method != "m" {
		t.Fatalf("extra keys: %+v %v", got, err)
	}
}

// TestFrameLimits checks size limits on both ends and that a frame reader
// rejects bad length prefixes before reading a body.
func TestFrameLimits(t *testing.T) {
	env := &Envelope{Kind: KindMessage, Body: make([]byte, 1000)}
	if _, err := appendEnvelope(nil, env, 500); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("encode over limit: %v", err)
	}
	prefix := []byte("keep")
	b, err := appendEnvelope(prefix, env, 500)
	if !bytes.Equal(b, prefix) || err == nil {
		t.Fatalf("failed encode must leave the buffer as it was: %q", b)
	}
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"oversize prefix": {[]byte{0xff, 0xff, 0xff, 0xff, 5}, ErrTooLarge},
		"zero length":     {[]byte{0, 0, 0, 0, 5}, ErrBadFrame},
		"truncated body":  {[]byte{0, 0, 0, 10, 5, 1, 2}, nil},
	}
	for name, c := range cases {
		fr := newFrameReader(bytes.NewReader(c.in), 1024)
		_, _, _, err := fr.next()
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// A large frame (bigger than the read buffer) still reads correctly.
	big := &Envelope{Kind: KindMessage, Body: bytes.Repeat([]byte{7}, 200_000)}
	frame, _ := appendEnvelope(nil, big, DefaultMaxFrameSize)
	fr := newFrameReader(bufio.NewReader(bytes.NewReader(append(frame, frame...))), DefaultMaxFrameSize)
	for i := 0; i < 2; i++ {
		ft, body, _, err := fr.next()
		var got Envelope
		if err != nil || ft != frameEnvelope || decodeEnvelope(body, &got, &interner{}, false) != nil ||
			!bytes.Equal(got.Body, big.Body) {
			t.Fatalf("big frame %d: %v", i, err)
		}
	}
}

// TestGarbageRejected feeds malformed bodies to the decoders.
func TestGarbageRejected(t *testing.T) {
	bad := [][]byte{
		{},
		{0x81},                              // map of 1, nothing else
		{0x81, 0xa1, 'k'},                   // key without value
		{0x81, 0xa1, 'k', 0xcd, 0x01, 0x00}, // kind 256
		{0x81, 0xa1, 'b', 0xc6, 0x7f, 0xff, 0xff, 0xff}, // bin32 longer than input
		{0xc1},                          // never-used code
		{0x80, 0x00},                    // trailing bytes
		bytes.Repeat([]byte{0x91}, 100), // deep nesting in a skipped value
	}
	bad[len(bad)-1] = append([]byte{0x81, 0xa2, 'z', 'z'}, bad[len(bad)-1]...)
	for i, b := range bad {
		var env Envelope
		if err := decodeEnvelope(b, &env, &interner{}, false); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%d (% x): want ErrBadFrame, got %v", i, b, err)
		}
	}
}

// TestDecodeAllocs keeps the receive path's allocations down: the
// envelope's node ids are interned, so only the body is copied.
func TestDecodeAllocs(t *testing.T) {
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 2}, To: PID{"b", 3, 4}, Body: make([]byte, 64), Type: "job"}
	frame, _ := appendEnvelope(nil, env, DefaultMaxFrameSize)
	_, body, _, _ := splitFrame(frame, DefaultMaxFrameSize)
	in := &interner{}
	in.str([]byte("a"))
	in.str([]byte("b"))
	in.str([]byte("job"))
	var got Envelope
	allocs := testing.AllocsPerRun(100, func() {
		got = Envelope{}
		_ = decodeEnvelope(body, &got, in, false)
	})
	if allocs > 1 {
		t.Fatalf("decode allocates %.1f times per envelope, want <= 1 (the body)", allocs)
	}
	buf := make([]byte, 0, 256)
	allocs = testing.AllocsPerRun(100, func() {
		buf, _ = appendEnvelope(buf[:0], env, DefaultMaxFrameSize)
	})
	if allocs != 0 {
		t.Fatalf("encode allocates %.1f times, want 0", allocs)
	}
}

// TestCheckMsgpack: well-formed values pass; declared lengths beyond the
// input, trailing bytes and deep nesting fail, without allocating.
func TestCheckMsgpack(t *testing.T) {
	good, _ := msgpack.Marshal(map[string]any{"id": 1, "tags": []string{"a", "b"}, "t": 1.5, "n": nil})
	if err := CheckMsgpack(good, 8); err != nil {
		t.Fatalf("good value: %v", err)
	}
	deep := append(bytes.Repeat([]byte{0x91}, 10), 0x01) // [[[...1...]]]
	bad := map[string][]byte{
		"huge array header": {0xdd, 0x7f, 0xff, 0xff, 0xff},
		"huge map header":   {0xdf, 0x7f, 0xff, 0xff, 0xff},
		"huge string":       {0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},
		"trailing bytes":    append(append([]byte{}, good...), 0x01),
		"empty":             {},
		"too deep":          deep,
		"never used code":   {0xc1},
	}
	for name, b := range bad {
		if err := CheckMsgpack(b, 8); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: got %v, want ErrBadFrame", name, err)
		}
	}
	if err := CheckMsgpack(deep, 16); err != nil {
		t.Fatalf("nesting within the limit: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckMsgpack(good, 8) }); n != 0 {
		t.Fatalf("CheckMsgpack allocates %.1f times", n)
	}
}

// nopSink counts what a dispatcher hands it.
type nopSink struct{ envs int }

func (s *nopSink) onEnvelope(*Envelope) error    { s.envs++; return nil }
func (s *nopSink) onRequest(*requestMsg) error   { return nil }
func (s *nopSink) onCancel(uint64)               {}
func (s *nopSink) onResponse(uint64, callResult) {}

// TestDispatchEnvelopeAllocs: dispatching an envelope allocates nothing
// (it is decoded into the dispatcher's envelope, its Body in place).
func TestDispatchEnvelopeAllocs(t *testing.T) {
	env := &Envelope{Kind: KindMessage, From: PID{"a", 1, 2}, To: PID{"b", 3, 4}, Body: make([]byte, 200), Type: "job"}
	frame, _ := appendEnvelope(nil, env, DefaultMaxFrameSize)
	ft, body, _, _ := splitFrame(frame, DefaultMaxFrameSize)
	sink := &nopSink{}
	d := dispatcher{sink: sink, allowed: framesLink}
	for _, s := range []string{"a", "b", "job"} {
		d.in.str([]byte(s))
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.dispatch(ft, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || sink.envs == 0 {
		t.Fatalf("dispatch allocates %.1f times per envelope (%d delivered), want 0", allocs, sink.envs)
	}
	if !reflect.DeepEqual(&d.env, env) {
		t.Fatalf("dispatched %+v, want %+v", d.env, *env)
	}
}

// TestFrameReaderGrowKeepsBuffered: moving a reader from its handshake
// buffer to the connection buffer loses none of the bytes already read
// ahead.
func TestFrameReaderGrowKeepsBuffered(t *testing.T) {
	var stream []byte
	for i := uint64(1); i <= 5; i++ {
		stream, _ = appendEnvelope(stream, &Envelope{Kind: KindMessage, Ref: i, Body: bytes.Repeat([]byte{byte(i)}, 100)}, 1<<20)
	}
	fr := newFrameReaderSize(bytes.NewReader(stream), 1<<20, handshakeBufSize)
	ft, body, _, err := fr.next()
	if err != nil || ft != frameEnvelope {
		t.Fatalf("first frame: %v %v", ft, err)
	}
	var env Envelope
	if err := decodeEnvelope(body, &env, &interner{}, false); err != nil || env.Ref != 1 {
		t.Fatalf("first frame: %+v %v", env, err)
	}
	if fr.br.Buffered() == 0 {
		t.Fatal("test needs bytes buffered ahead")
	}
	fr.grow(connBufSize)
	for want := uint64(2); want <= 5; want++ {
		_, body, _, err := fr.next()
		env = Envelope{}
		if err == nil {
			err = decodeEnvelope(body, &env, &interner{}, false)
		}
		if err != nil || env.Ref != want {
			t.Fatalf("frame %d after grow: %+v %v", want, env, err)
		}
	}
	if _, _, _, err := fr.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v", err)
	}
}
