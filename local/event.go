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
	// Reason is why the entry appeared or went: ReasonRegister,
	// ReasonUnregister, ReasonUnregisterMatch or ReasonProcessExit.
	Reason Reason
	// ExitReason is the owner's exit reason, passed through untouched from
	// Owners (nil unless Reason is ReasonProcessExit; it may be nil then
	// too if the runtime reports a nil reason).
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
