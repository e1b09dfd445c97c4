package node

import (
	"fmt"

	"github.com/roster-dev/roster/local"
)

// Names returns the node's unique-key registry of local names (Elixir's
// `Registry` with keys: :unique). Send(Name(x)) looks names up here. Entries
// vanish when their process exits.
func (n *Node) Names() *local.Registry[PID] { return n.names }

// Groups returns the node's duplicate-key registry (partitioned by pid): a
// key may hold many processes, e.g. a worker pool to Dispatch over.
func (n *Node) Groups() *local.Registry[PID] { return n.groups }

// NewRegistry creates a registry bound to this node's processes: cfg.Owners
// is set to the node, so entries vanish when their process exits and
// registering a dead or remote pid fails.
func (n *Node) NewRegistry(cfg local.Config[PID]) (*local.Registry[PID], error) {
	cfg.Owners = n
	r, err := local.New[PID](cfg)
	if err != nil {
		return nil, fmt.Errorf("node: new registry %q: %w", cfg.Name, err)
	}
	return r, nil
}

// Register registers pid under the unique local name. It fails with an
// error matching local.ErrAlreadyRegistered (a *local.AlreadyRegisteredError
// carrying the owner) if the name is taken, and with ErrNoProc if pid is not
// a live process of this node.
func (n *Node) Register(name string, pid PID) error {
	if err := n.names.Register(name, pid, nil); err != nil {
		return fmt.Errorf("node: register %q: %w", name, err)
	}
	return nil
}

// Unregister removes name if pid holds it. See local.Registry.Unregister
// for the errors (not found, not the owner).
func (n *Node) Unregister(name string, pid PID) error {
	if err := n.names.Unregister(name, pid); err != nil {
		return fmt.Errorf("node: unregister %q: %w", name, err)
	}
	return nil
}

// Whereis returns the process registered under the unique local name.
func (n *Node) Whereis(name string) (PID, bool) {
	pid, _, ok := n.names.Whereis(name)
	return pid, ok
}

// whereisName is Whereis with a typed error.
func (n *Node) whereisName(name string) (PID, error) {
	pid, _, ok := n.names.Whereis(name)
	if !ok {
		return PID{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return pid, nil
}
