package local

import (
	"errors"
	"fmt"
)

// Errors returned by the registry. Compare with errors.Is; most are wrapped
// with the offending key or pid.
var (
	// ErrKeyEmpty: a key (or meta or lock key) is the empty string.
	ErrKeyEmpty = errors.New("local: empty key")
	// ErrKeyTooLong: a key is longer than MaxKeyLen bytes.
	ErrKeyTooLong = errors.New("local: key too long")
	// ErrNoProc: the pid is not a live process (Owners.Attach refused it) or
	// it exited while the call ran.
	ErrNoProc = errors.New("local: no such process")
	// ErrNotOwner: the key is registered, but by another pid.
	ErrNotOwner = errors.New("local: key owned by another process")
	// ErrNotFound: no entry under the key (or none held by the pid). It
	// is Roster's one not-found error: node.ErrNotFound and
	// global.ErrNotFound are this very value, so errors.Is(err,
	// node.ErrNotFound) holds for a missing local name, remote name or
	// global name alike.
	ErrNotFound = errors.New("roster: name not registered")
	// ErrNilFunc: a nil function (predicate, handler, listener) was passed.
	ErrNilFunc = errors.New("local: nil function")
	// ErrNotUnique: a unique-only operation was called on a duplicate
	// registry.
	ErrNotUnique = errors.New("local: registry is not unique")
	// ErrAlreadyRegistered: the unique key is taken. The error returned is an
	// *AlreadyRegisteredError carrying the owner; errors.Is matches this
	// sentinel.
	ErrAlreadyRegistered = errors.New("local: key already registered")
	// ErrBadConfig: Config.Validate rejected the configuration.
	ErrBadConfig = errors.New("local: invalid config")
)

// AlreadyRegisteredError is returned by Register when a unique key is
// already held. Owner is the pid holding it, which may be the caller's own
// pid (Elixir's {:error, {:already_registered, pid}}).
type AlreadyRegisteredError[P comparable] struct {
	Key   string
	Owner P
}

// Error implements error.
func (e *AlreadyRegisteredError[P]) Error() string {
	return fmt.Sprintf("local: key %q already registered by %v", e.Key, e.Owner)
}

// Is reports whether target is ErrAlreadyRegistered.
func (e *AlreadyRegisteredError[P]) Is(target error) bool {
	return target == ErrAlreadyRegistered
}

// checkKey validates a key, meta key or lock key.
func checkKey(key string) error {
	if key == "" {
		return ErrKeyEmpty
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	return nil
}
