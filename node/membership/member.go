package membership

import "time"

// State is a member's gossip state.
type State string

// Member states, as memberlist sees them.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect"
	StateDead    State = "dead"
	StateLeft    State = "left"
)

// Member is one node as gossip knows it.
type Member struct {
	Meta  Meta
	Addr  string // gossip host:port
	State State
}

// EventType says what happened to a member.
type EventType string

// Event types.
const (
	// EventJoin: a member appeared (or came back after being dead).
	EventJoin EventType = "join"
	// EventUpdate: a member's meta or address changed (e.g. it restarted
	// with a new incarnation before anyone saw it die).
	EventUpdate EventType = "update"
	// EventLeave: a member left gracefully.
	EventLeave EventType = "leave"
	// EventDead: memberlist declared a member dead (failed probes and the
	// suspicion timeout passed without refutation).
	EventDead EventType = "dead"
)

// Event is a change of membership.
type Event struct {
	Type   EventType
	Member Member
	At     time.Time
}
