package api

import (
	"encoding/json"
	"time"
)

// PID names a process: "node.incarnation.serial". PIDs are never reused.
type PID string

// NodeID is a node's stable name.
type NodeID string

// Registration is a global name's entry.
type Registration struct {
	Name string `json:"name"`
	PID  PID    `json:"pid"`
	Node NodeID `json:"node"`
	// Meta is the JSON value given at registration, if any.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Fence is the Raft index of the registration: a later registration
	// of the same name has a larger one.
	Fence uint64 `json:"fence"`
	// Index is the Raft index of the replica read (lookups); Stale is set
	// when that replica has not heard from the leader recently.
	Index uint64 `json:"index,omitempty"`
	Stale bool   `json:"stale,omitempty"`
}

// Process is a mailbox process the client spawned.
type Process struct {
	PID PID `json:"pid"`
	// TTL is how long it lives without a renewal or a poll.
	TTL time.Duration `json:"-"`
}

// Message is one message taken from a mailbox.
type Message struct {
	// From is the sender, empty when it was not a process.
	From PID `json:"from,omitempty"`
	// Body is the message as JSON.
	Body json.RawMessage `json:"body"`
	// Call is set (and From and Body are empty) when the message is a call
	// to answer with Processes.Reply.
	Call *Call `json:"call,omitempty"`
}

// Call is a call an HTTP process received: answer it with
// Processes.Reply(ctx, pid, Ref, reply).
type Call struct {
	Ref  string          `json:"ref"`
	From PID             `json:"from,omitempty"`
	Body json.RawMessage `json:"body"`
}

// Sent is the answer to a send by name: the owner the message went to,
// and the fence it carried.
type Sent struct {
	PID   PID    `json:"pid"`
	Fence uint64 `json:"fence,omitempty"`
}

// Status is an agent's view of itself and the cluster.
type Status struct {
	Node        NodeID     `json:"node"`
	Incarnation uint64     `json:"incarnation,string"`
	Version     string     `json:"version"`
	Leader      NodeID     `json:"leader"`
	Raft        RaftStatus `json:"raft"`
	Voters      []NodeID   `json:"voters"`
	Members     []Member   `json:"members"`
}

// RaftStatus is the agent's view of Raft.
type RaftStatus struct {
	State        string `json:"state"` // Leader, Follower, Candidate, Shutdown
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// LastContact is the time since the leader was last heard from, as a
	// Go duration string (empty on the leader).
	LastContact string `json:"last_contact,omitempty"`
}

// Member is a node as gossip sees it.
type Member struct {
	Node        NodeID `json:"node"`
	Addr        string `json:"addr"`
	State       string `json:"state"`          // alive, suspect, dead, left
	Role        string `json:"role,omitempty"` // voter, nonvoter
	Incarnation uint64 `json:"incarnation,string,omitempty"`
}

// Health is a healthy agent's answer to GET /v1/health.
type Health struct {
	Status string `json:"status"`
	Node   NodeID `json:"node"`
}

// Event is one change to the global name table, from a watch.
type Event struct {
	// ID is the event's id, "index.n": pass it as WatchOptions.Index to
	// resume after this event.
	ID string `json:"-"`
	// Type is "registered" or "unregistered".
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	PID    PID             `json:"pid,omitempty"`
	Node   NodeID          `json:"node,omitempty"`
	Meta   json.RawMessage `json:"meta,omitempty"`
	Fence  uint64          `json:"fence,omitempty"`
	Index  uint64          `json:"index"`
	Reason string          `json:"reason,omitempty"` // unregister, process_exit, node_down, ...
	// Err, when set, is the last event of the channel: the agent ended the
	// stream (the watcher fell behind) or the connection broke. Re-list,
	// then watch again from the last ID.
	Err string `json:"error,omitempty"`
}
