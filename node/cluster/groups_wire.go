package cluster

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// The groups speak over the transport's RPC (Call), so every frame comes
// from a peer the transport authenticated (cluster key or mTLS) and names
// it. Method names, like the msgpack field tags, are on the wire: append
// only, never rename.
const (
	groupMethodSync    = "groups.sync"    // groupSyncMsg: one chunk of a full sync
	groupMethodDelta   = "groups.delta"   // groupDeltaMsg: changes, or a digest heartbeat
	groupMethodPublish = "groups.publish" // groupPublishMsg: messages for local members
	groupMethodPrefix  = "groups."
)

// groupOp is one membership of the sender: its absolute state (Count 0
// means it went, with Why and Exit saying why). Ops are idempotent, so a
// sync that overlaps deltas already applied does no harm. On the wire an
// op is a msgpack array [group, serial, count, meta, why, exit code, exit
// message] (hand-coded: syncs carry 100k of them); decoders ignore extra
// trailing elements, so fields can be appended.
type groupOp struct {
	Group  string
	Serial uint64
	Count  int
	Meta   []byte
	Why    string
	Exit   groupWireReason
}

var (
	_ msgpack.CustomEncoder = (*groupOp)(nil)
	_ msgpack.CustomDecoder = (*groupOp)(nil)
)

// EncodeMsgpack implements msgpack.CustomEncoder.
func (op *groupOp) EncodeMsgpack(enc *msgpack.Encoder) error {
	n := 4
	if op.Why != "" || op.Exit != (groupWireReason{}) {
		n = 7
	}
	if err := enc.EncodeArrayLen(n); err != nil {
		return err
	}
	if err := enc.EncodeString(op.Group); err != nil {
		return err
	}
	if err := enc.EncodeUint(op.Serial); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(op.Count)); err != nil {
		return err
	}
	if err := enc.EncodeBytes(op.Meta); err != nil {
		return err
	}
	if n == 4 {
		return nil
	}
	for _, s := range [...]string{op.Why, op.Exit.Code, op.Exit.Message} {
		if err := enc.EncodeString(s); err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (op *groupOp) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 4 {
		return fmt.Errorf("%w: op of %d fields", ErrGroupBadFrame, n)
	}
	if op.Group, err = dec.DecodeString(); err != nil {
		return err
	}
	if op.Serial, err = dec.DecodeUint64(); err != nil {
		return err
	}
	c, err := dec.DecodeInt64()
	if err != nil {
		return err
	}
	if c < 0 || c > 1<<31 {
		return fmt.Errorf("%w: count %d", ErrGroupBadFrame, c)
	}
	op.Count = int(c)
	if op.Meta, err = dec.DecodeBytes(); err != nil {
		return err
	}
	for i, dst := range [...]*string{&op.Why, &op.Exit.Code, &op.Exit.Message} {
		if 4+i >= n {
			break
		}
		if *dst, err = dec.DecodeString(); err != nil {
			return err
		}
	}
	for i := 7; i < n; i++ {
		if err := dec.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// groupHeader starts every sync and delta frame. FromInc is the sender's
// incarnation (the receiver refuses one membership does not know), ToInc
// the incarnation of the receiver the sender means. Seq numbers the
// sender's frames (increasing over the sender's lifetime); a delta carries
// Prev, the Seq of the frame before it on this link, so the receiver spots
// a gap and refuses it (the sender then resyncs).
type groupHeader struct {
	Scope   string `msgpack:"sc"`
	FromInc uint64 `msgpack:"fi"`
	ToInc   uint64 `msgpack:"ti"`
	Seq     uint64 `msgpack:"q"`
}

// groupSyncMsg is one chunk of a full sync: the sender's every member of
// the scope, in Part order; the view is replaced when the Last chunk
// arrives. Count and Hash are the digest of the whole set. Ask is set when
// the sender holds no view of the receiver: the receiver then syncs back.
type groupSyncMsg struct {
	groupHeader `msgpack:",inline"`
	Part        int       `msgpack:"p"`
	Last        bool      `msgpack:"l"`
	Ask         bool      `msgpack:"a,omitempty"`
	Count       int       `msgpack:"n"`
	Hash        uint64    `msgpack:"h"`
	Ops         []groupOp `msgpack:"o"`
	// Gone (Last chunk only) lists members that left since the previous
	// frame, with why, so the receiver reports the right reason for the
	// members the sync removes.
	Gone []groupOp `msgpack:"gn,omitempty"`
}

// groupDeltaMsg carries changes since frame Prev. With HasDigest, Count and
// Hash are the sender's digest after these changes; a receiver whose view
// differs refuses the frame (and the sender resyncs). A heartbeat is a
// delta with no ops.
type groupDeltaMsg struct {
	groupHeader `msgpack:",inline"`
	Prev        uint64    `msgpack:"pv"`
	HasDigest   bool      `msgpack:"hd,omitempty"`
	Count       int       `msgpack:"n,omitempty"`
	Hash        uint64    `msgpack:"h,omitempty"`
	Ops         []groupOp `msgpack:"o,omitempty"`
}

// groupPublishMsg carries messages for the receiver's members: each item's
// Body goes to every local member of Group in Scope.
type groupPublishMsg struct {
	Items []groupPubItem `msgpack:"i"`
}

type groupPubItem struct {
	_msgpack struct{} `msgpack:",as_array"`
	Scope    string   `msgpack:"sc"`
	Group    string   `msgpack:"g"`
	Body     []byte   `msgpack:"b"`
	Type     string   `msgpack:"ty"` // the body's registered type name (node.RegisterType), "" for none
}

func encodeGroupMsg(v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode group frame: %w", err)
	}
	return b, nil
}

func decodeGroupMsg(b []byte, v any) error {
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrGroupBadFrame, err)
	}
	return nil
}
