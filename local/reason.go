package local

// Reason says why a name or an entry appeared or went. It is Roster's one
// removal-reason vocabulary: local registry events (Event.Reason), global
// name events (global.Reason is this type), the name-lost signals of the
// clustered node, and the daemon's HTTP API and SSE stream all use these
// snake_case strings. It lives here, in the leaf package every other one
// may import. The strings are on the wire and in Raft snapshots: never
// change one; add new ones.
type Reason string

// Reasons. Local registries produce the first four; the global table and
// the clustered node the rest as well.
const (
	// ReasonRegister: Register added the entry.
	ReasonRegister Reason = "register"
	// ReasonUnregister: Unregister (or an operator's forced unregister)
	// removed it.
	ReasonUnregister Reason = "unregister"
	// ReasonUnregisterMatch: UnregisterMatch removed it.
	ReasonUnregisterMatch Reason = "unregister_match"
	// ReasonProcessExit: its owner process exited.
	ReasonProcessExit Reason = "process_exit"

	// ReasonReRegister: a global re-register pointed the name at an owner.
	ReasonReRegister Reason = "re_register"
	// ReasonMeta: the entry's metadata changed.
	ReasonMeta Reason = "meta"
	// ReasonNodeDown: the owner's node was declared dead.
	ReasonNodeDown Reason = "node_down"
	// ReasonNodeLeft: the owner's node left gracefully.
	ReasonNodeLeft Reason = "node_left"
	// ReasonRestart: the owner's node restarted (a new incarnation).
	ReasonRestart Reason = "restart"
	// ReasonConflict: a re-register took the name from this owner.
	ReasonConflict Reason = "conflict"
	// ReasonResync: a comparison with the replica, after a gap in its event
	// stream, found the name gone or held by another registration.
	ReasonResync Reason = "resync"
)
