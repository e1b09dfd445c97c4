package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

type point struct {
	X int `msgpack:"x"`
	Y int `msgpack:"y"`
}

// inmemPair builds nodes a and b over the in-memory transport (the real
// codec) and returns a's transport too.
func inmemPair(t *testing.T) (*Node, *Node, *transport.InmemTransport) {
	t.Helper()
	net := transport.NewInmemNetwork(1)
	var trA *transport.InmemTransport
	ns := clusterOf(t, func(cfg *transport.Config) addrTransport {
		tr, err := net.NewTransport(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		if trA == nil {
			trA = tr
		}
		return tr
	}, "a", "b")
	return ns[0], ns[1], trA
}

// TestRegisteredTypesCrossNodes: a registered type arrives as itself (a
// type switch works for remote senders too), pointer types included; an
// unregistered one keeps the generic form; Decode works on both.
func TestRegisteredTypesCrossNodes(t *testing.T) {
	a, b, _ := inmemPair(t)
	for _, n := range []*Node{a, b} {
		if err := RegisterType[job](n, "test.job"); err != nil {
			t.Fatal(err)
		}
		if err := RegisterType[*point](n, ""); err == nil {
			t.Fatal("*point has no name of its own: want an error")
		}
		if err := RegisterType[*point](n, "test.point-ptr"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	pb := spawnProbe(t, b)
	if err := a.Send(ctx, pb.pid, job{ID: 7, Tags: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	m := pb.next(t)
	switch body := m.Body.(type) {
	case job:
		if body.ID != 7 || len(body.Tags) != 1 || body.Tags[0] != "x" || !m.Remote() {
			t.Fatalf("got %+v (remote %v)", body, m.Remote())
		}
	default:
		t.Fatalf("registered type arrived as %T", m.Body)
	}
	var j job
	if err := m.Decode(&j); err != nil || j.ID != 7 {
		t.Fatalf("Decode: %+v %v", j, err)
	}
	if err := a.Send(ctx, pb.pid, &point{1, 2}); err != nil {
		t.Fatal(err)
	}
	if p, ok := pb.next(t).Body.(*point); !ok || *p != (point{1, 2}) {
		t.Fatalf("pointer type: %#v", p)
	}
	if err := a.Send(ctx, pb.pid, point{3, 4}); err != nil { // point itself is not registered
		t.Fatal(err)
	}
	m = pb.next(t)
	if _, ok := m.Body.(map[string]any); !ok {
		t.Fatalf("unregistered type arrived as %T, want the generic map", m.Body)
	}
	var p point
	if err := m.Decode(&p); err != nil || p != (point{3, 4}) {
		t.Fatalf("Decode generic: %+v %v", p, err)
	}
}

// TestRegisterTypeConflicts: re-registering the same pair is a no-op;
// conflicting names or types, interfaces, unnamed types without a name
// and overlong names are refused.
func TestRegisterTypeConflicts(t *testing.T) {
	n := newTestNode(t, "solo", nil)
	if err := RegisterType[job](n, ""); err != nil {
		t.Fatal(err)
	}
	if err := RegisterType[job](n, ""); err != nil {
		t.Fatalf("same type, same name again: %v", err)
	}
	cases := map[string]error{
		"other type, taken name": RegisterType[point](n, "github.com/roster-dev/roster/node.job"),
		"same type, second name": RegisterType[job](n, "job-again"),
		"interface":              RegisterType[error](n, "err"),
		"unnamed, no name":       RegisterType[[]int](n, ""),
		"name too long":          RegisterType[point](n, strings.Repeat("p", 256)),
	}
	want := map[string]error{"other type, taken name": ErrTypeRegistered, "same type, second name": ErrTypeRegistered}
	for name, err := range cases {
		w := want[name]
		if w == nil {
			w = ErrBadType
		}
		if !errors.Is(err, w) {
			t.Errorf("%s: got %v, want %v", name, err, w)
		}
	}
	if err := RegisterType[[]int](n, "ints"); err != nil {
		t.Fatalf("unnamed type with a name: %v", err)
	}
}

// TestBadRemoteMessagesDropped: a message naming a type the receiver has
// not registered, one whose body does not decode into its registered type,
// and one that is not msgpack at all are each dropped and counted; the
// connection and the node keep serving.
func TestBadRemoteMessagesDropped(t *testing.T) {
	a, b, trA := inmemPair(t)
	if err := RegisterType[job](a, "test.job"); err != nil { // b does not know it
		t.Fatal(err)
	}
	if err := RegisterType[point](b, "test.point"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pb := spawnProbe(t, b)
	str, _ := msgpack.Marshal("not a point")
	raw := func(typ string, body []byte) error {
		return trA.Send(ctx, "b", &transport.Envelope{Kind: transport.KindMessage, To: pb.pid, Type: typ, Body: body})
	}
	before := b.Stats().Dropped
	sends := []func() error{
		func() error { return a.Send(ctx, pb.pid, job{ID: 1}) },                   // unknown type on b
		func() error { return raw("test.point", str) },                            // wrong shape
		func() error { return raw("test.point", []byte{0xdd, 0x7f, 0xff, 0xff}) }, // huge array header
		func() error { return raw("", []byte{0xc1}) },                             // not msgpack
		func() error { return raw("", []byte{0x91, 0x91, 0x91}) },                 // truncated
	}
	for i, send := range sends {
		if err := send(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := a.Send(ctx, pb.pid, "still served"); err != nil {
		t.Fatal(err)
	}
	if m := pb.next(t); m.Body != "still served" {
		t.Fatalf("got %#v: a bad message was delivered", m.Body)
	}
	if got := b.Stats().Dropped - before; got != uint64(len(sends)) {
		t.Fatalf("dropped %d, want %d", got, len(sends))
	}
	if err := raw("test.point", mustMarshal(t, point{5, 6})); err != nil {
		t.Fatal(err)
	}
	if p, ok := pb.next(t).Body.(point); !ok || p != (point{5, 6}) {
		t.Fatalf("registered type after bad ones: %#v", p)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeRemoteMessage feeds arbitrary bodies, under a registered type
// name or none, to the receive path's decoder: it must never panic or
// allocate without bound, and what it accepts must have the registered
// type (or, generic, re-encode).
func FuzzDecodeRemoteMessage(f *testing.F) {
	var tt typeTable
	_ = tt.add(&msgType{name: "job", typ: reflect.TypeFor[job](), decode: decodeAs[job]()})
	_ = tt.add(&msgType{name: "point", typ: reflect.TypeFor[*point](), decode: decodeAs[*point]()})
	for _, v := range []any{job{ID: 1, Tags: []string{"a"}}, &point{1, 2}, "s", map[string]any{"k": []any{1, "x"}}, nil} {
		b, _ := msgpack.Marshal(v)
		f.Add(uint8(0), b)
		f.Add(uint8(1), b)
		f.Add(uint8(2), b)
	}
	f.Add(uint8(0), []byte{0xdd, 0x7f, 0xff, 0xff, 0xff})
	f.Add(uint8(3), []byte{0x80})
	names := []string{"", "job", "point", "unknown"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		typ := names[int(which)%len(names)]
		m, err := tt.decode(PID{}, typ, body)
		if err != nil {
			if !errors.Is(err, ErrDecode) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		switch typ {
		case "job":
			if _, ok := m.Body.(job); !ok {
				t.Fatalf("job decoded as %T", m.Body)
			}
		case "point":
			if _, ok := m.Body.(*point); !ok && m.Body != (*point)(nil) {
				t.Fatalf("*point decoded as %T", m.Body)
			}
		case "":
			if _, err := msgpack.Marshal(m.Body); err != nil {
				t.Fatalf("generic value %#v does not re-encode: %v", m.Body, err)
			}
		case "unknown":
			t.Fatal(fmt.Sprintf("unknown type accepted: %#v", m.Body))
		}
	})
}

// touchy panics when decoded from anything but the number 1.
type touchy struct{}

func (touchy) EncodeMsgpack(enc *msgpack.Encoder) error { return enc.EncodeInt(1) }

func (*touchy) DecodeMsgpack(dec *msgpack.Decoder) error {
	if n, err := dec.DecodeInt(); err != nil || n != 1 {
		panic("touchy")
	}
	return nil
}

// TestPanickingDecoderDropsMessage: a registered type whose own decoder
// panics on a peer's bytes costs that message, not the node.
func TestPanickingDecoderDropsMessage(t *testing.T) {
	var tt typeTable
	if err := tt.add(&msgType{name: "touchy", typ: reflect.TypeFor[touchy](), decode: decodeAs[touchy]()}); err != nil {
		t.Fatal(err)
	}
	if _, err := tt.decode(PID{}, "touchy", []byte{0x02}); !errors.Is(err, ErrDecode) {
		t.Fatalf("got %v, want ErrDecode", err)
	}
	if m, err := tt.decode(PID{}, "touchy", []byte{0x01}); err != nil || m.Body != (touchy{}) {
		t.Fatalf("good body: %#v %v", m.Body, err)
	}
}
