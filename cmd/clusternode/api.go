package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/transport"
)

// backend is everything the HTTP API needs from a node. nodeBackend (an
// adapter over *node.Node) implements it for the daemon; the tests use an
// in-memory fake. Every method may be called from many HTTP handler
// goroutines at once and must be safe for that. Methods that take a ctx may
// block until it is done; the others must not block.
//
// Errors: implementations wrap the daemon's sentinels below (errNoProc,
// errNotFound, errNotOwner, errInvalidName, errUnavailable, errCompacted,
// errRemotePID, errOutcomeUnknown, errMailboxFull) or return a *nameTakenError, so that http.go can map them to
// status codes without knowing the node's or the global table's types.
type backend interface {
	// Self returns this node's id and incarnation.
	Self() (transport.NodeID, uint64)

	// Spawn starts a process running fn, which receives from mb (only fn
	// may receive from mb). The process exits when fn returns: nil is a
	// normal exit, an error is the exit reason. ctx is cancelled when the
	// process is killed or the node shuts down.
	Spawn(fn func(ctx context.Context, mb mailbox) error) (transport.PID, error)
	// Alive reports whether pid is a live process on this node.
	Alive(pid transport.PID) bool
	// Send delivers body (a JSON value) to pid on any node. A send to a dead
	// local pid fails with errNoProc; a send to a remote pid is
	// fire-and-forget.
	Send(ctx context.Context, to transport.PID, body json.RawMessage) error

	// RegisterLocal gives the live local process pid the unique local name
	// key. A *nameTakenError if the key is taken.
	RegisterLocal(key string, pid transport.PID) error
	// LookupLocal returns the owner of a local name, errNotFound if none.
	LookupLocal(key string) (transport.PID, error)
	// UnregisterLocal removes key if pid owns it (errNotOwner otherwise).
	UnregisterLocal(key string, pid transport.PID) error
	// JoinGroup adds pid to the duplicate-key group key.
	JoinGroup(key string, pid transport.PID) error
	// GroupMembers lists the group's members (empty when none).
	GroupMembers(key string) []transport.PID
	// LeaveGroup removes pid from the group; errNotFound if not a member.
	LeaveGroup(key string, pid transport.PID) error
	// SendGroup delivers body to every member and returns how many.
	SendGroup(ctx context.Context, key string, body json.RawMessage) (int, error)

	// RegisterGlobal registers a cluster-wide name for the live local
	// process pid once a Raft quorum committed it.
	RegisterGlobal(ctx context.Context, name string, pid transport.PID, meta json.RawMessage) (registration, error)
	// LookupGlobal reads a name from the local replica, or verified by the
	// leader when consistent. errNotFound if unknown.
	LookupGlobal(ctx context.Context, name string, consistent bool) (registration, error)
	// UnregisterGlobal removes a name on behalf of its owner.
	UnregisterGlobal(ctx context.Context, name string, pid transport.PID) error
	// ListGlobal lists one page of the names starting with prefix, sorted
	// by name: at most limit (1..maxPageLimit) sorting after after
	// (exclusive; "" from the first), and next, the after of the
	// following page ("" when no more remain).
	ListGlobal(ctx context.Context, prefix, after string, limit int, consistent bool) (regs []registration, next string, err error)
	// SendGlobal delivers body to the owner of name, carrying its fence,
	// and returns the registration it used.
	SendGlobal(ctx context.Context, name string, body json.RawMessage) (registration, error)
	// WatchGlobal streams name events for prefix with a Raft index of at
	// least from (0: from now), in log order; one index may carry several
	// events (a log entry holds a batch of commands). The channel closes
	// when ctx is done; a watcher that falls behind gets a last event with
	// Err set. errCompacted if from is older than the history kept.
	WatchGlobal(ctx context.Context, prefix string, from uint64) (<-chan nameEvent, error)

	// Health is nil when this node serves: it is in a cluster with a leader.
	Health() error
	// Status returns a snapshot of the node and the cluster.
	Status(ctx context.Context) (status, error)
	// Stats returns counters for /metrics. It must not block.
	Stats() stats
}

// mailbox is the receiving end of a process, as the daemon sees it.
type mailbox interface {
	// Receive waits for the next message until ctx is done. Called only
	// from the process's own goroutine.
	Receive(ctx context.Context) (inbound, error)
	// TryReceive returns the next message if one is queued, without waiting.
	TryReceive() (inbound, bool)
}

// inbound is a message taken from a mailbox, ready to render as JSON.
type inbound struct {
	// From is the sender, zero when it was not a process.
	From transport.PID `json:"from,omitempty"`
	// Body is the message as JSON (see render.go for how Go values and
	// remote msgpack bodies become JSON).
	Body json.RawMessage `json:"body"`
	// Call is set instead when the message is a call to answer with
	// POST /v1/processes/{pid}/replies/{ref} (http_calls.go).
	Call *inboundCall `json:"-"`
}

// pidOrEmpty is a PID's JSON form: its string, "" for the zero PID.
type pidOrEmpty = string

// The JSON forms of the types below print PIDs as strings
// ("node.incarnation.serial"), not as objects.

// MarshalJSON renders the message with its sender as a string.
func (m inbound) MarshalJSON() ([]byte, error) {
	if m.Call != nil {
		return json.Marshal(map[string]*inboundCall{"call": m.Call})
	}
	type plain inbound
	return json.Marshal(struct {
		plain
		From pidOrEmpty `json:"from,omitempty"`
	}{plain(m), m.From.String()})
}

// MarshalJSON renders the registration with its pid as a string.
func (r registration) MarshalJSON() ([]byte, error) {
	type plain registration
	return json.Marshal(struct {
		plain
		PID pidOrEmpty `json:"pid"`
	}{plain(r), r.PID.String()})
}

// MarshalJSON renders the event with its pid as a string.
func (e nameEvent) MarshalJSON() ([]byte, error) {
	type plain nameEvent
	return json.Marshal(struct {
		plain
		PID pidOrEmpty `json:"pid,omitempty"`
	}{plain(e), e.PID.String()})
}

// registration is a global name's entry in the table.
type registration struct {
	Name  string           `json:"name"`
	PID   transport.PID    `json:"pid"`
	Node  transport.NodeID `json:"node"`
	Meta  json.RawMessage  `json:"meta,omitempty"`
	Fence uint64           `json:"fence"`
	// Index is the Raft index of the replica read; Stale is set when the
	// replica has not heard from the leader recently.
	Index uint64 `json:"index,omitempty"`
	Stale bool   `json:"stale,omitempty"`
}

// nameEvent is one change to the global table, for /v1/watch.
type nameEvent struct {
	Type   string           `json:"type"` // "registered" or "unregistered"
	Name   string           `json:"name"`
	PID    transport.PID    `json:"pid"`
	Node   transport.NodeID `json:"node"`
	Meta   json.RawMessage  `json:"meta,omitempty"`
	Fence  uint64           `json:"fence,omitempty"`
	Index  uint64           `json:"index"`
	Reason string           `json:"reason,omitempty"` // unregister, process_exit, node_down, ...
	// Err, when set, ends the stream: the watcher fell behind or was
	// dropped, and the client must re-list and resume.
	Err string `json:"error,omitempty"`
}

// status is the answer to GET /v1/status.
type status struct {
	Node        transport.NodeID   `json:"node"`
	Incarnation uint64             `json:"incarnation,string"` // a string: it exceeds 2^53
	Version     string             `json:"version"`
	Leader      transport.NodeID   `json:"leader"`
	Raft        raftStatus         `json:"raft"`
	Voters      []transport.NodeID `json:"voters"`
	Members     []member           `json:"members"`
}

// raftStatus is this node's view of Raft.
type raftStatus struct {
	State        string `json:"state"` // Leader, Follower, Candidate, Shutdown
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// LastContact is the time since the leader was last heard from
	// (zero on the leader), as a Go duration string.
	LastContact string `json:"last_contact,omitempty"`
}

// member is one node as memberlist sees it.
type member struct {
	Node        transport.NodeID `json:"node"`
	Addr        string           `json:"addr"`
	State       string           `json:"state"`          // alive, suspect, dead, left
	Role        string           `json:"role,omitempty"` // voter, nonvoter
	Incarnation uint64           `json:"incarnation,string,omitempty"`
}

// stats are the node's counters, read at each /metrics scrape.
type stats struct {
	Processes       int
	GlobalNames     int
	LocalNames      int
	MessagesIn      uint64
	MessagesOut     uint64
	MessagesDropped uint64
}

// Errors a backend wraps so that the HTTP layer can pick a status code.
var (
	errNoProc      = errors.New("clusternode: no such process")
	errNotFound    = errors.New("clusternode: not found")
	errNotOwner    = errors.New("clusternode: not the owner")
	errInvalidName = errors.New("clusternode: invalid name")
	errUnavailable = errors.New("clusternode: unavailable")
	errCompacted   = errors.New("clusternode: index compacted")
	errRemotePID   = errors.New("clusternode: pid is on another node")
	errNameTaken   = errors.New("clusternode: name already registered")
	errTTLExpired  = errors.New("clusternode: client process ttl expired")
	// errOutcomeUnknown: a global write may or may not have been applied
	// (leadership was lost mid-commit); re-read before retrying.
	errOutcomeUnknown = errors.New("clusternode: write outcome unknown")
	errMailboxFull    = errors.New("clusternode: mailbox full")
)

// nameTakenError reports the current owner of a name that is taken.
type nameTakenError struct {
	Name  string
	Owner registration
}

func (e *nameTakenError) Error() string {
	return fmt.Sprintf("%v: %q is owned by %s", errNameTaken, e.Name, e.Owner.PID)
}

// Is makes errors.Is(err, errNameTaken) true.
func (e *nameTakenError) Is(target error) bool { return target == errNameTaken }

// Limits of the HTTP API.
const (
	// maxBodyBytes caps request bodies (messages, registrations): 1 MiB.
	maxBodyBytes = 1 << 20
	// maxNameLen is the longest global or local name, in bytes (the
	// global table's limit).
	maxNameLen = 255
	// maxWait caps ?wait= on long-polls.
	maxWait = 60 * time.Second
	// defaultMax and maxMax bound ?max= on long-polls.
	defaultMax = 100
	maxMax     = 1000
	// defaultTTL, minTTL and maxTTL bound client process TTLs.
	defaultTTL = 30 * time.Second
	minTTL     = 100 * time.Millisecond
	maxTTL     = 24 * time.Hour
)
