package node

import (
	"errors"
	"fmt"

	"github.com/roster-dev/roster/local"
)

// Via is a destination resolved through any unique local.Registry (Elixir's
// {:via, Registry, {registry, key}}): Send, Call and Monitor look Key up in
// Registry at the time of the call. A missing key gives ErrNotFound
// (Call: a *CallError with NoProc); a duplicate-key registry ErrBadDest.
type Via struct {
	Registry *local.Registry[PID]
	Key      string
}

// resolveVia returns the process registered under d.Key in d.Registry.
func (n *Node) resolveVia(d Via) (PID, error) {
	if d.Registry == nil {
		return PID{}, fmt.Errorf("%w: via a nil registry", ErrBadDest)
	}
	if d.Registry.Kind() != local.Unique {
		return PID{}, fmt.Errorf("%w: via registry %q is not unique", ErrBadDest, d.Registry.Name())
	}
	pid, _, ok := d.Registry.Whereis(d.Key)
	if !ok {
		return PID{}, fmt.Errorf("%w: %q in registry %q", ErrNotFound, d.Key, d.Registry.Name())
	}
	return pid, nil
}

// viaReg is one WithVia registration.
type viaReg struct {
	reg   *local.Registry[PID]
	key   string
	value any
}

// WithVia registers the new process under key, with value, in reg (any
// registry made by NewRegistry, or Names and Groups) before it runs:
// Elixir's name: {:via, Registry, {reg, key, value}}. The registration is
// atomic with the spawn: if a unique key is taken, Spawn fails with an
// *AlreadyStartedError naming the holder and the process never runs; if it
// succeeds, the process is findable under key by the time Spawn returns.
func WithVia(reg *local.Registry[PID], key string, value any) SpawnOption {
	return func(o *spawnOptions) { o.vias = append(o.vias, viaReg{reg: reg, key: key, value: value}) }
}

// applyVias makes the WithVia registrations of a process not yet running.
func (p *Process) applyVias(vias []viaReg) error {
	for _, v := range vias {
		if v.reg == nil {
			return fmt.Errorf("%w: spawn: via a nil registry", ErrBadDest)
		}
		if err := v.reg.Register(v.key, p.pid, v.value); err != nil {
			return alreadyStarted(fmt.Errorf("node: spawn: via %q in %q: %w", v.key, v.reg.Name(), err))
		}
	}
	return nil
}

// AlreadyStartedError fails a Spawn whose name (WithName, WithVia, or a
// supervisor child's name) is held by a live process: Elixir's
// {:error, {:already_started, pid}}. It wraps the registry's
// *local.AlreadyRegisteredError, so errors.Is(err,
// local.ErrAlreadyRegistered) holds too.
type AlreadyStartedError struct {
	PID PID   // the process holding the name
	Err error // the registration error
}

// Error implements error.
func (e *AlreadyStartedError) Error() string {
	return fmt.Sprintf("node: already started as %s: %v", e.PID, e.Err)
}

// Unwrap returns the registration error.
func (e *AlreadyStartedError) Unwrap() error { return e.Err }

// alreadyStarted turns a registration error naming an owner into an
// *AlreadyStartedError; other errors pass through.
func alreadyStarted(err error) error {
	var are *local.AlreadyRegisteredError[PID]
	if errors.As(err, &are) {
		return &AlreadyStartedError{PID: are.Owner, Err: err}
	}
	return err
}
