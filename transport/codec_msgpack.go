package transport

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Hand-written msgpack primitives for the hot frames (envelope, request,
// response, cancel). They produce exactly what vmihailenco/msgpack would for
// the tagged structs (maps keyed by the tag names) and read anything it may
// write, which the tests check both ways; they exist because they encode
// into a caller's buffer and decode without reflection or per-field
// allocation.

func appendMapLen(b []byte, n int) []byte {
	if n < 16 {
		return append(b, msgpcode.FixedMapLow|byte(n))
	}
	return append(b, msgpcode.Map16, byte(n>>8), byte(n))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, msgpcode.FixedStrLow|byte(n))
	case n <= math.MaxUint8:
		b = append(b, msgpcode.Str8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, msgpcode.Str16, byte(n>>8), byte(n))
	default:
		b = append(b, msgpcode.Str32)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, msgpcode.Bin8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, msgpcode.Bin16, byte(n>>8), byte(n))
	default:
		b = append(b, msgpcode.Bin32)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, p...)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= uint64(msgpcode.PosFixedNumHigh):
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, msgpcode.Uint8, byte(v))
	case v <= math.MaxUint16:
		return append(b, msgpcode.Uint16, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, msgpcode.Uint32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, msgpcode.Uint64), v)
	}
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	if v >= -32 {
		return append(b, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Int64), uint64(v))
}

// mpReader decodes msgpack from a byte slice. Every length is checked
// against the bytes that remain, so garbage cannot make it allocate more
// than its input.
type mpReader struct {
	b        []byte
	off      int
	maxDepth int // nesting skip accepts; 0 means maxSkipDepth
}

// CheckMsgpack returns an error (wrapping ErrBadFrame) unless b holds
// exactly one msgpack value whose every declared length fits in b, nested
// at most maxDepth deep. It reads b once and allocates nothing. A decoder
// that sizes allocations from declared lengths (vmihailenco/msgpack
// preallocates a generic []any from its header: 5 bytes can ask for
// gigabytes) or recurses once per level must only be given checked input
// from a peer; the node package checks every message body with it.
func CheckMsgpack(b []byte, maxDepth int) error {
	r := mpReader{b: b, maxDepth: max(maxDepth, 1)}
	err := r.skip(0)
	if err == nil && r.off != len(b) {
		err = fmt.Errorf("%d trailing bytes", len(b)-r.off)
	}
	if err != nil {
		return fmt.Errorf("%w: msgpack value: %w", ErrBadFrame, err)
	}
	return nil
}

func (r *mpReader) need(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, errMsgpack
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *mpReader) code() (byte, error) {
	p, err := r.need(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// lenN reads an n-byte big-endian length.
func (r *mpReader) lenN(n int) (int, error) {
	p, err := r.need(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return int(p[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(p)), nil
	default:
		v := binary.BigEndian.Uint32(p)
		if v > math.MaxInt32 {
			return 0, errMsgpack
		}
		return int(v), nil
	}
}

// mapLen reads a map header; nil reads as an empty map.
func (r *mpReader) mapLen() (int, error) {
	c, err := r.code()
	switch {
	case err != nil:
		return 0, err
	case msgpcode.IsFixedMap(c):
		return int(c & 0x0f), nil
	case c == msgpcode.Map16:
		return r.lenN(2)
	case c == msgpcode.Map32:
		return r.lenN(4)
	case c == msgpcode.Nil:
		return 0, nil
	}
	return 0, errMsgpack
}

// bytes reads a str or bin (nil reads as empty) and returns a slice of the
// input; callers copy what they keep.
func (r *mpReader) bytes() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		n, err = r.lenN(1)
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		n, err = r.lenN(2)
	case c == msgpcode.Str32 || c == msgpcode.Bin32:
		n, err = r.lenN(4)
	case c == msgpcode.Nil:
		return nil, nil
	default:
		return nil, errMsgpack
	}
	if err != nil {
		return nil, err
	}
	return r.need(n)
}

// int reads any msgpack integer (nil reads as 0) as an int64 plus a flag for
// values above MaxInt64.
func (r *mpReader) int() (int64, bool, error) {
	c, err := r.code()
	if err != nil {
		return 0, false, err
	}
	if msgpcode.IsFixedNum(c) {
		return int64(int8(c)), false, nil
	}
	var p []byte
	switch c {
	case msgpcode.Nil:
		return 0, false, nil
	case msgpcode.Uint8, msgpcode.Int8:
		p, err = r.need(1)
	case msgpcode.Uint16, msgpcode.Int16:
		p, err = r.need(2)
	case msgpcode.Uint32, msgpcode.Int32:
		p, err = r.need(4)
	case msgpcode.Uint64, msgpcode.Int64:
		p, err = r.need(8)
	default:
		return 0, false, errMsgpack
	}
	if err != nil {
		return 0, false, err
	}
	var u uint64
	for _, x := range p {
		u = u<<8 | uint64(x)
	}
	if c >= msgpcode.Int8 { // signed: sign-extend
		shift := 64 - 8*len(p)
		return int64(u<<shift) >> shift, false, nil
	}
	return int64(u), u > math.MaxInt64, nil
}

// uint reads a non-negative integer.
func (r *mpReader) uint() (uint64, error) {
	v, big, err := r.int()
	switch {
	case err != nil:
		return 0, err
	case big:
		return uint64(v), nil
	case v < 0:
		return 0, errMsgpack
	}
	return uint64(v), nil
}

// maxSkipDepth bounds nesting in skipped values so garbage cannot exhaust
// the stack.
const maxSkipDepth = 16

// skip skips one value of any type (for unknown map keys: forward
// compatibility).
func (r *mpReader) skip(depth int) error {
	limit := r.maxDepth
	if limit == 0 {
		limit = maxSkipDepth
	}
	if depth > limit {
		return errMsgpack
	}
	c, err := r.code()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Nil, c == msgpcode.True, c == msgpcode.False:
		return nil
	case msgpcode.IsFixedString(c), c == msgpcode.Str8, c == msgpcode.Str16, c == msgpcode.Str32,
		c == msgpcode.Bin8, c == msgpcode.Bin16, c == msgpcode.Bin32:
		r.off--
		_, err = r.bytes()
		return err
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		r.off--
		n, err := r.mapLen()
		return r.skipN(2*n, depth, err)
	case msgpcode.IsFixedArray(c):
		return r.skipN(int(c&msgpcode.FixedArrayMask), depth, nil)
	case c == msgpcode.Array16:
		n, err := r.lenN(2)
		return r.skipN(n, depth, err)
	case c == msgpcode.Array32:
		n, err := r.lenN(4)
		return r.skipN(n, depth, err)
	}
	return r.skipFixed(c)
}

func (r *mpReader) skipN(n, depth int, err error) error {
	for i := 0; i < n && err == nil; i++ {
		err = r.skip(depth + 1)
	}
	return err
}

// skipFixed skips numbers and extensions.
func (r *mpReader) skipFixed(c byte) error {
	var n int
	var err error
	switch c {
	case msgpcode.Uint8, msgpcode.Int8:
		n = 1
	case msgpcode.Uint16, msgpcode.Int16:
		n = 2
	case msgpcode.Uint32, msgpcode.Int32, msgpcode.Float:
		n = 4
	case msgpcode.Uint64, msgpcode.Int64, msgpcode.Double:
		n = 8
	case msgpcode.FixExt1, msgpcode.FixExt2, msgpcode.FixExt4, msgpcode.FixExt8, msgpcode.FixExt16:
		n = 1 + 1<<(c-msgpcode.FixExt1)
	case msgpcode.Ext8:
		n, err = r.lenN(1)
		n++
	case msgpcode.Ext16:
		n, err = r.lenN(2)
		n++
	case msgpcode.Ext32:
		n, err = r.lenN(4)
		n++
	default:
		return errMsgpack
	}
	if err != nil {
		return err
	}
	_, err = r.need(n)
	return err
}
