package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/local"
)

// RestartStrategy says which children a supervisor restarts when one exits
// and must be restarted.
type RestartStrategy uint8

// Restart strategies, as in OTP.
const (
	// OneForOne restarts only the child that exited. The zero value.
	OneForOne RestartStrategy = iota
	// OneForAll terminates the other children (in reverse start order) and
	// restarts them all (in start order).
	OneForAll
	// RestForOne terminates the children started after the one that exited
	// (in reverse order) and restarts it and them (in order).
	RestForOne
	// Dynamic is OTP's simple_one_for_one / Elixir's DynamicSupervisor: no
	// children at start, StartChild adds them (IDs optional), and each is
	// restarted on its own, as with OneForOne.
	Dynamic
)

// String returns the OTP name.
func (s RestartStrategy) String() string {
	switch s {
	case OneForOne:
		return "one_for_one"
	case OneForAll:
		return "one_for_all"
	case RestForOne:
		return "rest_for_one"
	case Dynamic:
		return "dynamic"
	}
	return fmt.Sprintf("RestartStrategy(%d)", uint8(s))
}

// RestartType says when a child that exited is restarted.
type RestartType uint8

// Restart types, as in OTP.
const (
	// Permanent children are always restarted. The zero value.
	Permanent RestartType = iota
	// Transient children are restarted only after an abnormal exit (a
	// reason other than Normal and Shutdown).
	Transient
	// Temporary children are never restarted; they leave the supervisor
	// when they exit.
	Temporary
)

// String returns the OTP name.
func (r RestartType) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return fmt.Sprintf("RestartType(%d)", uint8(r))
}

// DefaultShutdown is a child's graceful shutdown time when ChildSpec.Shutdown
// is zero.
const DefaultShutdown = 5 * time.Second

// BrutalKill as ChildSpec.Shutdown kills the child at once (Exit with
// Killed) instead of asking it to shut down first.
const BrutalKill time.Duration = -1

// ChildSpec describes one child of a supervisor.
type ChildSpec struct {
	// ID names the child among its supervisor's children: required and
	// unique, except under Dynamic, where an empty ID gets a generated one.
	ID string
	// Start is the child's body; each (re)start runs it afresh in a new
	// process. Required.
	Start ProcessFunc
	// Restart says when the child is restarted. Default Permanent.
	Restart RestartType
	// Shutdown is how long the supervisor waits, after Exit(child,
	// Shutdown), for the child's body to return before it kills it (a
	// child that does not trap exits dies at once; one that traps gets an
	// ExitSignal to act on). 0 means DefaultShutdown; BrutalKill kills at
	// once. The supervisor waits the same bound for a dead child's body to
	// return (see Node.Wait) before starting its replacement.
	Shutdown time.Duration
	// Name, Via and Global register the child, on every start, before its
	// body runs and before the start is reported: a local name, a key in
	// any registry (Elixir's via tuple), a cluster-wide name (needs
	// SupervisorSpec.Global). A taken local name or via key fails the start
	// with an *AlreadyStartedError. A global name held by the child's dead
	// predecessor is taken only once that registration is gone.
	Name   string
	Via    *ViaName
	Global string
	// Options are extra spawn options for the child (a mailbox bound, ...).
	Options []SpawnOption
}

// ViaName is a child's registration in a local.Registry, with its value.
type ViaName struct {
	Registry *local.Registry[PID]
	Key      string
	Value    any
}

// GlobalRegistrar registers cluster-wide names for supervisors; the
// clustered node implements it (package node/cluster).
type GlobalRegistrar interface {
	// RegisterGlobalName registers name for pid, waiting (until ctx ends)
	// while the name is still held by a process of this node that has
	// exited, and failing if a live process holds it. Called from the
	// supervisor's goroutine; it blocks for a Raft commit.
	RegisterGlobalName(ctx context.Context, name string, pid PID) error
}

// SupervisorSpec configures a supervisor. Start from DefaultSupervisorSpec.
type SupervisorSpec struct {
	// Strategy is the restart strategy. Default OneForOne.
	Strategy RestartStrategy
	// Intensity is the most restarts allowed within Period: one more and
	// the supervisor terminates its children and exits with a
	// *SupervisorError matching ErrMaxRestarts. 0 means no restart is
	// allowed; negative is refused. DefaultSupervisorSpec: 3 (Elixir's).
	Intensity int
	// Period is the window Intensity counts restarts in; must be > 0.
	// DefaultSupervisorSpec: 5s.
	Period time.Duration
	// Children are started in order, and stopped in reverse order. Empty
	// under Dynamic.
	Children []ChildSpec
	// Global registers the children's Global names. nil: children with a
	// Global name are refused.
	Global GlobalRegistrar
}

// DefaultSupervisorSpec returns a OneForOne spec allowing 3 restarts in 5s.
func DefaultSupervisorSpec() SupervisorSpec {
	return SupervisorSpec{Strategy: OneForOne, Intensity: 3, Period: 5 * time.Second}
}

// Supervisor errors.
var (
	// ErrBadSpec: a SupervisorSpec or ChildSpec failed validation.
	ErrBadSpec = errors.New("node: invalid supervisor spec")
	// ErrMaxRestarts: a supervisor exceeded its restart intensity (OTP's
	// reached_max_restart_intensity).
	ErrMaxRestarts = errors.New("node: supervisor reached max restart intensity")
	// ErrNoChild: no child with that ID (or pid) under the supervisor.
	ErrNoChild = errors.New("node: no such child")
)

// SupervisorError is the exit reason of a supervisor that gave up: it
// matches ErrMaxRestarts, and Child and Reason say whose exit was one too
// many.
type SupervisorError struct {
	Child  string // the child's ID
	Reason error  // its last exit reason
}

// Error implements error.
func (e *SupervisorError) Error() string {
	return fmt.Sprintf("%v: child %q exited: %v", ErrMaxRestarts, e.Child, e.Reason)
}

// Unwrap returns ErrMaxRestarts and the child's reason.
func (e *SupervisorError) Unwrap() []error { return []error{ErrMaxRestarts, e.Reason} }

// Validate checks the spec and its children.
func (s *SupervisorSpec) Validate() error {
	if s.Strategy > Dynamic {
		return fmt.Errorf("%w: unknown strategy %d", ErrBadSpec, s.Strategy)
	}
	if s.Intensity < 0 {
		return fmt.Errorf("%w: intensity %d < 0", ErrBadSpec, s.Intensity)
	}
	if s.Period <= 0 {
		return fmt.Errorf("%w: period %v must be > 0", ErrBadSpec, s.Period)
	}
	if s.Strategy == Dynamic && len(s.Children) > 0 {
		return fmt.Errorf("%w: a dynamic supervisor starts with no children", ErrBadSpec)
	}
	ids := make(map[string]bool, len(s.Children))
	for i := range s.Children {
		c := &s.Children[i]
		if err := s.validateChild(c); err != nil {
			return err
		}
		if ids[c.ID] {
			return fmt.Errorf("%w: duplicate child id %q", ErrBadSpec, c.ID)
		}
		ids[c.ID] = true
	}
	return nil
}

// validateChild checks one child spec against s.
func (s *SupervisorSpec) validateChild(c *ChildSpec) error {
	switch {
	case c.ID == "" && s.Strategy != Dynamic:
		return fmt.Errorf("%w: child without an id", ErrBadSpec)
	case c.Start == nil:
		return fmt.Errorf("%w: child %q: %w: no start function", ErrBadSpec, c.ID, ErrNilFunc)
	case c.Restart > Temporary:
		return fmt.Errorf("%w: child %q: unknown restart type %d", ErrBadSpec, c.ID, c.Restart)
	case c.Shutdown < 0 && c.Shutdown != BrutalKill:
		return fmt.Errorf("%w: child %q: shutdown %v", ErrBadSpec, c.ID, c.Shutdown)
	case c.Via != nil && c.Via.Registry == nil:
		return fmt.Errorf("%w: child %q: via a nil registry", ErrBadSpec, c.ID)
	case c.Global != "" && s.Global == nil:
		return fmt.Errorf("%w: child %q: global name %q without SupervisorSpec.Global", ErrBadSpec, c.ID, c.Global)
	}
	return nil
}

// Supervisor is a handle on a supervisor process, for code outside it.
// Its methods are calls to the supervisor and take a ctx.
type Supervisor struct {
	n   *Node
	pid PID
}

// PID returns the supervisor's pid (Exit it with Shutdown to stop it and
// its children gracefully; link or monitor it like any process).
func (s *Supervisor) PID() PID { return s.pid }

// StartSupervisor validates spec, spawns a supervisor process (opts apply
// to it: a name, a link), starts the children in order and returns once
// they all run and are registered. If a child fails to start, the ones
// already started are stopped in reverse order and StartSupervisor returns
// the error.
func (n *Node) StartSupervisor(ctx context.Context, spec SupervisorSpec, opts ...SpawnOption) (*Supervisor, error) {
	b, err := newSupervisorBody(spec)
	if err != nil {
		return nil, err
	}
	started := make(chan error, 1)
	b.started = started
	pid, err := n.Spawn(b.run, opts...)
	if err != nil {
		return nil, err
	}
	select {
	case err := <-started:
		if err != nil {
			return nil, err
		}
		return &Supervisor{n: n, pid: pid}, nil
	case <-ctx.Done():
		_ = n.Exit(pid, Shutdown)
		return nil, ctx.Err()
	}
}

// Supervise returns a handle on a supervisor process started elsewhere (a
// child of another supervisor, found by name).
func (n *Node) Supervise(pid PID) *Supervisor { return &Supervisor{n: n, pid: pid} }

// SupervisorBody returns the body of a supervisor for spec, to run as a
// child of another supervisor (a tree): ChildSpec{Start: body}. Give such
// a child a Shutdown long enough for its own children to stop.
func SupervisorBody(spec SupervisorSpec) (ProcessFunc, error) {
	b, err := newSupervisorBody(spec)
	if err != nil {
		return nil, err
	}
	return b.run, nil
}

// newSupervisorBody validates a copy of spec.
func newSupervisorBody(spec SupervisorSpec) (*supervisorBody, error) {
	spec.Children = append([]ChildSpec(nil), spec.Children...)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &supervisorBody{spec: spec}, nil
}

// ChildInfo describes a child (Supervisor.Children).
type ChildInfo struct {
	ID      string
	PID     PID // zero if not running
	Restart RestartType
}

// Supervisor requests (calls to the supervisor process).
type (
	supStartChild     struct{ spec ChildSpec }
	supTerminateChild struct {
		id  string
		pid PID
	}
	supWhichChildren struct{}
)

// StartChild adds a child and starts it (and registers its names) before
// returning its pid. Under a static strategy the child joins the end of
// the start order.
func (s *Supervisor) StartChild(ctx context.Context, spec ChildSpec) (PID, error) {
	v, err := s.call(ctx, supStartChild{spec: spec})
	pid, _ := v.(PID)
	return pid, err
}

// TerminateChild stops the child id (shutdown as in its spec) and removes
// it from the supervisor (OTP's terminate_child then delete_child).
func (s *Supervisor) TerminateChild(ctx context.Context, id string) error {
	_, err := s.call(ctx, supTerminateChild{id: id})
	return err
}

// TerminateChildPID is TerminateChild by pid (dynamic children).
func (s *Supervisor) TerminateChildPID(ctx context.Context, pid PID) error {
	_, err := s.call(ctx, supTerminateChild{pid: pid})
	return err
}

// Children lists the children in start order.
func (s *Supervisor) Children(ctx context.Context) ([]ChildInfo, error) {
	v, err := s.call(ctx, supWhichChildren{})
	infos, _ := v.([]ChildInfo)
	return infos, err
}

// Stop shuts the supervisor down (its children in reverse order, each
// within its Shutdown) and waits for it to be gone, returning its exit
// reason (Shutdown).
func (s *Supervisor) Stop(ctx context.Context) (error, error) {
	return s.n.Stop(ctx, s.pid, Shutdown)
}

// supReply is what the supervisor answers requests with: a value or an
// error. Supervisor calls are local (specs hold functions), so it travels
// as the Go value.
type supReply struct {
	v   any
	err error
}

// call makes a request to the supervisor.
func (s *Supervisor) call(ctx context.Context, req any) (any, error) {
	m, err := s.n.Call(ctx, s.pid, req)
	if err != nil {
		return nil, err
	}
	r, ok := m.Body.(supReply)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a supervisor (answered %T)", ErrBadDest, s.pid, m.Body)
	}
	return r.v, r.err
}
