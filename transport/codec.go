package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Frame format, the same for TCP and the in-memory transport:
//
//	+----------------+--------+-------------------------+
//	| length uint32  | type   | body (msgpack)          |
//	| big endian     | 1 byte | length-1 bytes          |
//	+----------------+--------+-------------------------+
//
// length counts the type byte and the body; it must be in 1..MaxFrameSize,
// which is checked before any buffer is allocated. Bodies are msgpack maps
// keyed by the short names in the structs' msgpack tags; unknown keys are
// skipped, so fields can be added.

// ProtocolVersion is announced in every handshake; peers with another
// version are refused (ErrVersionMismatch). Version 2: identities are
// exchanged only after both sides proved the cluster key (in auth and
// accept, no longer in hello).
const ProtocolVersion = 2

// frameType is a frame's one-byte message type. It is on the wire: append
// only, never renumber or reuse a value.
type frameType uint8

// Frame types.
const (
	frameHello    frameType = 1 // helloMsg: both directions, first frame
	frameAuth     frameType = 2 // authMsg: dialer proves the cluster key, then says who it is
	frameAccept   frameType = 3 // acceptMsg: acceptor admits the dialer and says who it is
	frameRefuse   frameType = 4 // refuseMsg: either side, then close
	frameEnvelope frameType = 5 // Envelope
	frameRequest  frameType = 6 // requestMsg
	frameResponse frameType = 7 // responseMsg
	frameCancel   frameType = 8 // cancelMsg
)

const (
	frameHeaderLen = 5
	// maxHandshakeFrame bounds frames before a peer is authenticated.
	maxHandshakeFrame = 4096
)

// helloMsg opens a handshake in both directions. It carries nothing that
// identifies the node: that waits until the peer has proven the key.
type helloMsg struct {
	Version uint16 `msgpack:"v"`
	Cluster string `msgpack:"c"`
	Nonce   []byte `msgpack:"nc"`
	// Proof is the acceptor's HMAC over both nonces (empty without a
	// cluster key, and in the dialer's hello).
	Proof []byte `msgpack:"p,omitempty"`
}

// authMsg carries the dialer's HMAC over both nonces and its identity, sent
// once the acceptor's proof checked.
type authMsg struct {
	Proof       []byte `msgpack:"p"`
	Node        NodeID `msgpack:"n"`
	Incarnation uint64 `msgpack:"i"`
	// Gen numbers the dialer's connections (increasing within one
	// incarnation). The acceptor delivers only from the newest connection
	// of a peer, so frames still buffered on a dead one cannot overtake
	// newer ones.
	Gen uint64 `msgpack:"g,omitempty"`
	// Want and WantInc are the node the dialer meant to reach (WantInc 0:
	// any incarnation); the acceptor refuses when that is not itself.
	Want    NodeID `msgpack:"w"`
	WantInc uint64 `msgpack:"wi,omitempty"`
}

// acceptMsg admits the dialer: the acceptor's identity and its HMAC over
// the whole exchange.
type acceptMsg struct {
	Node        NodeID `msgpack:"n"`
	Incarnation uint64 `msgpack:"i"`
	Proof       []byte `msgpack:"p,omitempty"`
}

// refuseMsg says why a handshake was refused, before the connection closes.
type refuseMsg struct {
	Code   string `msgpack:"c"` // "version", "cluster", "auth", "peer"
	Reason string `msgpack:"r"`
}

// requestMsg is an RPC request. Deadline is the caller's remaining time in
// nanoseconds (0: none).
type requestMsg struct {
	ID       uint64 `msgpack:"i"`
	Method   string `msgpack:"m"`
	Deadline int64  `msgpack:"d,omitempty"`
	Body     []byte `msgpack:"b,omitempty"`
}

// responseMsg answers request ID with Body, or with Error (the handler's
// error text) when Error is non-empty.
type responseMsg struct {
	ID    uint64 `msgpack:"i"`
	Body  []byte `msgpack:"b,omitempty"`
	Error string `msgpack:"e,omitempty"`
}

// cancelMsg tells the server that the caller gave up on request ID.
type cancelMsg struct {
	ID uint64 `msgpack:"i"`
}

// beginFrame reserves a frame header at the end of b.
func beginFrame(b []byte, t frameType) ([]byte, int) {
	start := len(b)
	return append(b, 0, 0, 0, 0, byte(t)), start
}

// endFrame fills in the length of the frame begun at start, or drops it
// and returns ErrTooLarge.
func endFrame(b []byte, start, maxFrame int) ([]byte, error) {
	n := len(b) - start - 4
	if n > maxFrame {
		return b[:start], fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, n, maxFrame)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// appendEnvelope appends env as one frame.
func appendEnvelope(b []byte, env *Envelope, maxFrame int) ([]byte, error) {
	b, start := beginFrame(b, frameEnvelope)
	n := 3
	for _, set := range [...]bool{env.ToName != "", env.Ref != 0, env.Reason != Reason{},
		env.GlobalName != "", env.Fence != 0, len(env.Body) > 0, env.Type != ""} {
		if set {
			n++
		}
	}
	b = appendMapLen(b, n)
	b = appendUint(appendStr(b, "k"), uint64(env.Kind))
	b = appendPID(appendStr(b, "f"), env.From)
	b = appendPID(appendStr(b, "t"), env.To)
	if env.ToName != "" {
		b = appendStr(appendStr(b, "tn"), env.ToName)
	}
	if env.Ref != 0 {
		b = appendUint(appendStr(b, "r"), env.Ref)
	}
	if env.Reason != (Reason{}) {
		b = appendStr(b, "rs")
		if env.Reason.Message != "" {
			b = appendStr(appendStr(appendMapLen(b, 2), "c"), env.Reason.Code)
			b = appendStr(appendStr(b, "m"), env.Reason.Message)
		} else {
			b = appendStr(appendStr(appendMapLen(b, 1), "c"), env.Reason.Code)
		}
	}
	if env.GlobalName != "" {
		b = appendStr(appendStr(b, "gn"), env.GlobalName)
	}
	if env.Fence != 0 {
		b = appendUint(appendStr(b, "fc"), env.Fence)
	}
	if len(env.Body) > 0 {
		b = appendBin(appendStr(b, "b"), env.Body)
	}
	if env.Type != "" {
		b = appendStr(appendStr(b, "ty"), env.Type)
	}
	return endFrame(b, start, maxFrame)
}

func appendPID(b []byte, p PID) []byte {
	b = appendStr(appendStr(appendMapLen(b, 3), "n"), string(p.Node))
	b = appendUint(appendStr(b, "i"), p.Incarnation)
	return appendUint(appendStr(b, "s"), p.Serial)
}

// appendRequest appends an RPC request frame.
func appendRequest(b []byte, m *requestMsg, maxFrame int) ([]byte, error) {
	b, start := beginFrame(b, frameRequest)
	n := 2
	if m.Deadline != 0 {
		n++
	}
	if len(m.Body) > 0 {
		n++
	}
	b = appendUint(appendStr(appendMapLen(b, n), "i"), m.ID)
	b = appendStr(appendStr(b, "m"), m.Method)
	if m.Deadline != 0 {
		b = appendInt(appendStr(b, "d"), m.Deadline)
	}
	if len(m.Body) > 0 {
		b = appendBin(appendStr(b, "b"), m.Body)
	}
	return endFrame(b, start, maxFrame)
}

// appendResponse appends an RPC response frame.
func appendResponse(b []byte, m *responseMsg, maxFrame int) ([]byte, error) {
	b, start := beginFrame(b, frameResponse)
	n := 1
	if len(m.Body) > 0 {
		n++
	}
	if m.Error != "" {
		n++
	}
	b = appendUint(appendStr(appendMapLen(b, n), "i"), m.ID)
	if len(m.Body) > 0 {
		b = appendBin(appendStr(b, "b"), m.Body)
	}
	if m.Error != "" {
		b = appendStr(appendStr(b, "e"), m.Error)
	}
	return endFrame(b, start, maxFrame)
}

// appendCancel appends an RPC cancel frame.
func appendCancel(b []byte, id uint64) []byte {
	b, start := beginFrame(b, frameCancel)
	b = appendUint(appendStr(appendMapLen(b, 1), "i"), id)
	b, _ = endFrame(b, start, maxHandshakeFrame) // a cancel is ~15 bytes
	return b
}

// appendMsgpack appends a frame whose body is v encoded by
// vmihailenco/msgpack (handshake frames: rare, so reflection is fine).
func appendMsgpack(b []byte, t frameType, v any, maxFrame int) ([]byte, error) {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("transport: encode %T: %w", v, err)
	}
	b, start := beginFrame(b, t)
	return endFrame(append(b, body...), start, maxFrame)
}

// decodeMsgpack decodes a handshake body.
func decodeMsgpack(body []byte, v any) error {
	if err := msgpack.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %T: %w", ErrBadFrame, v, err)
	}
	return nil
}

// interner returns shared strings for node ids and message type names
// seen before on a connection (the two ends' ids and a handful of types,
// almost always), so decoding a PID or a type name does not allocate. The
// first len(known) distinct strings are kept; later ones are allocated
// each time.
type interner struct {
	known [16]string
	n     int
}

func (in *interner) str(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	for i := 0; i < in.n; i++ {
		if in.known[i] == string(p) { // no allocation: compiler-optimised compare
			return in.known[i]
		}
	}
	s := string(p)
	if in.n < len(in.known) {
		in.known[in.n] = s
		in.n++
	}
	return s
}

// decodeEnvelope decodes an envelope body into env. Unless alias, the
// result shares no memory with body; with alias, env.Body points into body
// (the dispatcher's envelopes live only as long as their frame).
func decodeEnvelope(body []byte, env *Envelope, in *interner, alias bool) error {
	r := mpReader{b: body}
	n, err := r.mapLen()
	for i := 0; i < n && err == nil; i++ {
		var key []byte
		if key, err = r.bytes(); err != nil {
			break
		}
		err = decodeEnvelopeField(&r, string(key), env, in, alias)
	}
	if err == nil && r.off != len(body) {
		err = errMsgpack
	}
	if err != nil {
		return fmt.Errorf("%w: envelope: %w", ErrBadFrame, err)
	}
	return nil
}

func decodeEnvelopeField(r *mpReader, key string, env *Envelope, in *interner, alias bool) error {
	var err error
	var p []byte
	switch key {
	case "k":
		var k uint64
		k, err = r.uint()
		if k > 255 {
			return errMsgpack
		}
		env.Kind = Kind(k)
	case "f":
		err = decodePID(r, &env.From, in)
	case "t":
		err = decodePID(r, &env.To, in)
	case "tn":
		p, err = r.bytes()
		env.ToName = string(p)
	case "r":
		env.Ref, err = r.uint()
	case "rs":
		err = decodeReason(r, &env.Reason)
	case "gn":
		p, err = r.bytes()
		env.GlobalName = string(p)
	case "fc":
		env.Fence, err = r.uint()
	case "ty":
		p, err = r.bytes()
		env.Type = in.str(p)
	case "b":
		p, err = r.bytes()
		switch {
		case len(p) == 0:
		case alias:
			env.Body = p[:len(p):len(p)]
		default:
			env.Body = append([]byte(nil), p...)
		}
	default:
		err = r.skip(0)
	}
	return err
}

func decodePID(r *mpReader, p *PID, in *interner) error {
	n, err := r.mapLen()
	for i := 0; i < n && err == nil; i++ {
		var key, s []byte
		if key, err = r.bytes(); err != nil {
			return err
		}
		switch string(key) {
		case "n":
			s, err = r.bytes()
			p.Node = NodeID(in.str(s))
		case "i":
			p.Incarnation, err = r.uint()
		case "s":
			p.Serial, err = r.uint()
		default:
			err = r.skip(1)
		}
	}
	return err
}

func decodeReason(r *mpReader, rs *Reason) error {
	n, err := r.mapLen()
	for i := 0; i < n && err == nil; i++ {
		var key, s []byte
		if key, err = r.bytes(); err != nil {
			return err
		}
		switch string(key) {
		case "c":
			s, err = r.bytes()
			rs.Code = string(s)
		case "m":
			s, err = r.bytes()
			rs.Message = string(s)
		default:
			err = r.skip(1)
		}
	}
	return err
}

// decodeRPC decodes a request, response or cancel body into m (fields a
// frame type does not carry stay zero).
func decodeRPC(body []byte, m *requestMsg, errText *string) error {
	r := mpReader{b: body}
	n, err := r.mapLen()
	for i := 0; i < n && err == nil; i++ {
		var key, s []byte
		if key, err = r.bytes(); err != nil {
			break
		}
		switch string(key) {
		case "i":
			m.ID, err = r.uint()
		case "m":
			s, err = r.bytes()
			m.Method = string(s)
		case "d":
			m.Deadline, _, err = r.int()
		case "b":
			s, err = r.bytes()
			if len(s) > 0 {
				m.Body = append([]byte(nil), s...)
			}
		case "e":
			s, err = r.bytes()
			*errText = string(s)
		default:
			err = r.skip(0)
		}
	}
	if err == nil && r.off != len(body) {
		err = errMsgpack
	}
	if err != nil {
		return fmt.Errorf("%w: rpc: %w", ErrBadFrame, err)
	}
	return nil
}

// frameReader reads frames from a buffered stream. The body returned by
// next is valid until the following call.
type frameReader struct {
	src      io.Reader
	br       *bufio.Reader
	maxFrame int
	discard  int
	hdr      [frameHeaderLen]byte // here, not on next's stack, so it does not escape
}

// Read buffer sizes: connections read through a 64 KiB buffer once they
// are authenticated; before that (many strangers may be connecting) one
// handshake frame's worth.
const (
	connBufSize      = 64 << 10
	handshakeBufSize = maxHandshakeFrame + frameHeaderLen
)

func newFrameReader(r io.Reader, maxFrame int) *frameReader {
	return newFrameReaderSize(r, maxFrame, connBufSize)
}

func newFrameReaderSize(r io.Reader, maxFrame, size int) *frameReader {
	return &frameReader{src: r, br: bufio.NewReaderSize(r, size), maxFrame: maxFrame}
}

// grow moves fr onto a read buffer of size bytes, keeping whatever is
// already buffered (an authenticated connection leaves its small
// handshake buffer).
func (fr *frameReader) grow(size int) {
	if fr.discard > 0 {
		_, _ = fr.br.Discard(fr.discard)
		fr.discard = 0
	}
	if fr.br.Size() >= size {
		return
	}
	src := fr.src
	if n := fr.br.Buffered(); n > 0 {
		rest, _ := fr.br.Peek(n)
		src = io.MultiReader(bytes.NewReader(append([]byte(nil), rest...)), fr.src)
	}
	fr.br = bufio.NewReaderSize(src, size)
}

// next reads one frame. A length outside 1..maxFrame is rejected before
// anything is allocated. A body that fits the read buffer is returned in
// place, valid until the next call; a larger one is read into its own
// allocation, and owned reports that the caller may keep it.
func (fr *frameReader) next() (t frameType, body []byte, owned bool, err error) {
	if fr.discard > 0 {
		_, _ = fr.br.Discard(fr.discard)
		fr.discard = 0
	}
	hdr := fr.hdr[:]
	if _, err := io.ReadFull(fr.br, hdr); err != nil {
		return 0, nil, false, err
	}
	n := int(binary.BigEndian.Uint32(hdr))
	switch {
	case n < 1:
		return 0, nil, false, fmt.Errorf("%w: zero length", ErrBadFrame)
	case n > fr.maxFrame:
		return 0, nil, false, fmt.Errorf("%w: peer announced %d bytes > %d", ErrTooLarge, n, fr.maxFrame)
	}
	t, n = frameType(hdr[4]), n-1
	if n <= fr.br.Size() {
		if body, err = fr.br.Peek(n); err != nil {
			return 0, nil, false, noEOF(err)
		}
		fr.discard = n
		return t, body, false, nil
	}
	body = make([]byte, n)
	if _, err = io.ReadFull(fr.br, body); err != nil {
		return 0, nil, false, noEOF(err)
	}
	return t, body, true, nil
}

// noEOF turns EOF inside a frame into ErrUnexpectedEOF (a truncated frame).
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// deadlineOf returns ctx's remaining time in nanoseconds, 0 if none; an
// expired deadline is 1ns so it stays distinguishable from none.
func deadlineOf(d time.Time, ok bool) int64 {
	if !ok {
		return 0
	}
	return max(int64(time.Until(d)), 1)
}

// splitFrame takes the first frame off b, with the same checks as
// frameReader.next; the in-memory transport uses it on coalesced batches.
func splitFrame(b []byte, maxFrame int) (frameType, []byte, []byte, error) {
	if len(b) < frameHeaderLen {
		return 0, nil, nil, fmt.Errorf("%w: truncated header", ErrBadFrame)
	}
	n := int(binary.BigEndian.Uint32(b))
	switch {
	case n < 1:
		return 0, nil, nil, fmt.Errorf("%w: zero length", ErrBadFrame)
	case n > maxFrame:
		return 0, nil, nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, n, maxFrame)
	case len(b)-4 < n:
		return 0, nil, nil, fmt.Errorf("%w: truncated body", ErrBadFrame)
	}
	return frameType(b[4]), b[frameHeaderLen : 4+n], b[4+n:], nil
}
