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
// sync that overlaps deltas already applied does no harm.
type groupOp struct {
	_msgpack struct{}   `msgpack:",as_array"`
	Group    string     `msgpack:"g"`
	Serial   uint64     `msgpack:"s"`
	Count    int        `msgpack:"c"`
	Meta     []byte     `msgpack:"m"`
	Why      string     `msgpack:"w"`
	Exit     wireReason `msgpack:"x"`
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
