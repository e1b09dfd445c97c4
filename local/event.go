package local

import "strconv"

// EventType says whether an entry appeared or went.
type EventType uint8

// Event types.
const (
	// Registered: an entry was added.
	Registered EventType = iota + 1
	// Unregistered: an entry was removed.
	Unregistered
)

// String returns "registered" or "unregistered".
func (t EventType) String() string {
	switch t {
	case Registered:
		return "registered"
	case Unregistered:
		return "unregistered"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Cause says which operation produced an event.
type Cause uint8

// Causes.
const (
	// CauseRegister: Register added the entry.
	CauseRegister Cause = iota + 1
	// CauseUnregister: Unregister removed the entry.
	CauseUnregister
	// CauseUnregisterMatch: UnregisterMatch removed the entry.
	CauseUnregisterMatch
	// CauseOwnerExit: the owner process exited; Event.ExitReason says why.
	CauseOwnerExit
)

// String returns the cause in lower case, e.g. "owner_exit".
func (c Cause) String() string {
	switch c {
	case CauseRegister:
		return "register"
	case CauseUnregister:
		return "unregister"
	case CauseUnregisterMatch:
		return "unregister_match"
	case CauseOwnerExit:
		return "owner_exit"
	}
	return "Cause(" + strconv.Itoa(int(c)) + ")"
}

// Event reports one entry added to or removed from a registry.
type Event[P comparable] struct {
	// Registry is Config.Name of the registry that changed.
	Registry string
	// Type is Registered or Unregistered.
	Type EventType
	// Key, PID and Value describe the entry (Value as it was when removed).
	Key   string
	PID   P
	Value any
	// Cause is the operation that changed the table.
	Cause Cause
	// ExitReason is the owner's exit reason, passed through untouched from
	// Owners (nil unless Cause is CauseOwnerExit; it may be nil then too if
	// the runtime reports a nil reason).
	ExitReason error
}

// Listener is called for every entry registered or unregistered, in the
// goroutine that made the change, after the change and outside any table
// lock, in table order per partition (events of one partition are never
// delivered out of order or concurrently with each other).
//
// A listener must not block, must not panic, and must not change the same
// registry (Register, Unregister, UnregisterMatch, OwnerExited): doing so
// deadlocks on the partition's event order. Reading the registry is fine.
// Hand work that blocks or writes off to a goroutine or a channel.
type Listener[P comparable] func(Event[P])
