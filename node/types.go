package node

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// maxBodyDepth bounds the nesting of a message body from another node:
// deeper bodies are dropped before any decoder recurses into them.
const maxBodyDepth = 64

// RegisterType makes messages of Go type T keep their type across nodes.
// A T sent to a process on another node normally arrives as its generic
// msgpack decoding (map[string]any for a struct), so a type switch on
// Message.Body that works for local senders falls through for remote ones.
// Once both nodes have registered T under the same name, the receiver's
// Body is a T, decoded once, on arrival.
//
// name identifies T on the wire; "" means T's package path and name (e.g.
// "example.com/shop.Order"), which changes if the type moves: give a name
// for types that may. Register the same types under the same names on every
// node before sending them: a message naming a type its receiver has not
// registered, or whose body does not decode into the registered type, is
// dropped there, logged with the reason and counted in Stats.Dropped (the
// connection and the node carry on). Values of unregistered types keep the
// generic form.
//
// Registering T again under the same name does nothing. A name already
// used by another type, T under a second name, an interface type or a
// name too long for the wire (over 255 bytes) is refused with an error
// wrapping ErrTypeRegistered or ErrBadType. Safe for concurrent use, at
// any time; types stay registered until the node is gone.
func RegisterType[T any](n *Node, name string) error {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("%w: %v is an interface type; register the concrete types sent", ErrBadType, t)
	}
	if name == "" {
		if t.Name() == "" || t.PkgPath() == "" {
			return fmt.Errorf("%w: %v has no package path and name: give a name", ErrBadType, t)
		}
		name = t.PkgPath() + "." + t.Name()
	}
	if len(name) > maxTypeName {
		return fmt.Errorf("%w: name of %d bytes > %d", ErrBadType, len(name), maxTypeName)
	}
	return n.types.add(&msgType{name: name, typ: t, decode: decodeAs[T]()})
}

// MessageType returns the name msg's type is registered under
// (RegisterType), or "" when it is not: what a send to another node puts
// in transport.Envelope.Type. Code that encodes a message once for many
// receivers (the cluster's group Publish) uses it to keep the type.
func (n *Node) MessageType(msg any) string { return n.types.nameOf(msg) }

// maxTypeName is the longest registered type name, in bytes.
const maxTypeName = 255

// msgType is one registered message type.
type msgType struct {
	name   string
	typ    reflect.Type
	decode func(dec *msgpack.Decoder) (any, error)
}

// decodeAs returns a decoder of one T into an interface value.
func decodeAs[T any]() func(dec *msgpack.Decoder) (any, error) {
	box := boxer[T]()
	return func(dec *msgpack.Decoder) (any, error) {
		p := new(T)
		if err := dec.Decode(p); err != nil {
			return nil, err
		}
		return box(p), nil
	}
}

// typeTable is a node's registered message types: an immutable snapshot
// replaced on every registration, so that the send and receive paths read
// it with one atomic load. Its zero value is empty.
type typeTable struct {
	mu   sync.Mutex // serialises add
	snap atomic.Pointer[typeSnapshot]
}

type typeSnapshot struct {
	byType map[reflect.Type]*msgType
	byName map[string]*msgType
}

func (tt *typeTable) add(mt *msgType) error {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	old := tt.snap.Load()
	if old == nil {
		old = &typeSnapshot{}
	}
	if cur, ok := old.byName[mt.name]; ok {
		if cur.typ == mt.typ {
			return nil
		}
		return fmt.Errorf("%w: name %q is %v's", ErrTypeRegistered, mt.name, cur.typ)
	}
	if cur, ok := old.byType[mt.typ]; ok {
		return fmt.Errorf("%w: %v is registered as %q", ErrTypeRegistered, mt.typ, cur.name)
	}
	next := &typeSnapshot{byType: make(map[reflect.Type]*msgType, len(old.byType)+1),
		byName: make(map[string]*msgType, len(old.byName)+1)}
	for k, v := range old.byType {
		next.byType[k] = v
	}
	for k, v := range old.byName {
		next.byName[k] = v
	}
	next.byType[mt.typ], next.byName[mt.name] = mt, mt
	tt.snap.Store(next)
	return nil
}

// nameOf returns the registered name of msg's type ("" if none).
func (tt *typeTable) nameOf(msg any) string {
	s := tt.snap.Load()
	if s == nil || msg == nil {
		return ""
	}
	if mt := s.byType[reflect.TypeOf(msg)]; mt != nil {
		return mt.name
	}
	return ""
}

// decode builds the Message for a body from another node, decoding it once:
// into the registered type typ names, or (typ empty) into the generic form,
// keeping a copy of the bytes for Message.Decode. body may be the
// transport's buffer: nothing returned aliases it. Errors wrap ErrDecode
// (or ErrUnknownType) and mean the message is dropped.
func (tt *typeTable) decode(from PID, typ string, body []byte) (Message, error) {
	if len(body) == 0 {
		body = msgpackNil // an empty body is a nil message
	}
	var mt *msgType
	if typ != "" {
		if s := tt.snap.Load(); s != nil {
			mt = s.byName[typ]
		}
		if mt == nil {
			return Message{}, fmt.Errorf("%w: %q is not registered on this node", ErrUnknownType, typ)
		}
	}
	if err := transport.CheckMsgpack(body, maxBodyDepth); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	d := decoders.Get().(*bodyDecoder)
	defer decoders.Put(d)
	d.r.Reset(body)
	d.dec.Reset(&d.r)
	if mt != nil {
		v, err := safely(func() (any, error) { return mt.decode(d.dec) })
		if err == nil && d.r.Len() != 0 {
			err = fmt.Errorf("%d bytes after the value", d.r.Len())
		}
		if err != nil {
			return Message{}, fmt.Errorf("%w: into %v (%q): %w", ErrDecode, mt.typ, typ, err)
		}
		return Message{From: from, Body: v, remote: true}, nil
	}
	v, err := safely(d.dec.DecodeInterface)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return Message{From: from, Body: v, raw: bytes.Clone(body), remote: true}, nil
}

var msgpackNil = []byte{0xc0}

// safely runs a decoder, turning a panic (a registered type's own
// DecodeMsgpack method failing on what a peer sent, say) into an error:
// nothing a peer sends may crash the node.
func safely(decode func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return decode()
}

// bodyDecoder is a reusable decoder over a byte slice.
type bodyDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decoders = sync.Pool{New: func() any {
	d := &bodyDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// bodyEncoder is a reusable encoder into a growing buffer.
type bodyEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &bodyEncoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}}

// encode msgpack-encodes msg into e's buffer and returns the bytes, valid
// until e is reused.
func (e *bodyEncoder) encode(msg any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("%w: %T: %w", ErrEncode, msg, err)
	}
	return e.buf.Bytes(), nil
}

// release returns e to the pool unless its buffer grew large.
func (e *bodyEncoder) release() {
	if e.buf.Cap() <= 64<<10 {
		encoders.Put(e)
	}
}
