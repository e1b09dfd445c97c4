package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// globalRegisterTimeout bounds one registration of a child's global name
// (a Raft commit, plus the wait for the dead predecessor's registration to
// go).
const globalRegisterTimeout = 30 * time.Second

// supervisorBody is a supervisor's process function: each run (a
// supervisor restarted by its own supervisor) starts from a fresh state.
type supervisorBody struct {
	spec    SupervisorSpec
	started chan<- error // StartSupervisor's; nil for a child supervisor
}

// supState is one run of a supervisor. Only the supervisor's goroutine
// touches it.
type supState struct {
	spec     SupervisorSpec
	n        *Node
	p        *Process
	parents  map[PID]bool // linked before the children: an exit of one stops us
	children []*supChild  // in start order
	byPID    map[PID]*supChild
	restarts []time.Time // within the last Period
	nextID   int
}

// supChild is a child's spec and its current pid (zero: not running).
type supChild struct {
	spec ChildSpec
	pid  PID
}

func (b supervisorBody) run(ctx context.Context, p *Process) error {
	p.TrapExit(true)
	s := &supState{spec: b.spec, n: p.Node(), p: p, parents: make(map[PID]bool), byPID: make(map[PID]*supChild)}
	for _, l := range p.Links() {
		s.parents[l] = true
	}
	for i := range s.spec.Children {
		s.children = append(s.children, &supChild{spec: s.spec.Children[i]})
	}
	if err := s.startFrom(ctx, 0); err != nil {
		s.stopAll()
		if b.started != nil {
			b.started <- err
		}
		return err
	}
	if b.started != nil {
		b.started <- nil
	}
	return s.loop(ctx)
}

// loop serves exit signals and requests until the supervisor stops.
func (s *supState) loop(ctx context.Context) error {
	for {
		m, err := s.p.Receive(ctx)
		if err != nil {
			s.stopAll() // killed: children got the link signal too
			return err
		}
		switch b := m.Body.(type) {
		case ExitSignal:
			if c := s.byPID[b.From]; c != nil {
				if err := s.childExited(ctx, c, b.Reason); err != nil {
					s.stopAll()
					return err
				}
				continue
			}
			if (b.From.IsZero() || s.parents[b.From]) && !isNormal(b.Reason) {
				s.stopAll()
				return b.Reason
			}
			// A former child's late signal, or a normal exit: ignored.
		default:
			if m.IsCall() {
				v, err := s.handle(ctx, m.Body)
				_ = s.p.Reply(ctx, m.ReplyTo(), supReply{v: v, err: err})
			}
		}
	}
}

// handle serves a request.
func (s *supState) handle(ctx context.Context, req any) (any, error) {
	switch r := req.(type) {
	case supStartChild:
		c := &supChild{spec: r.spec}
		if err := s.spec.validateChild(&c.spec); err != nil {
			return nil, err
		}
		if c.spec.ID == "" {
			s.nextID++
			c.spec.ID = fmt.Sprintf("child-%d", s.nextID)
		}
		if s.find(c.spec.ID, PID{}) >= 0 {
			return nil, fmt.Errorf("%w: duplicate child id %q", ErrBadSpec, c.spec.ID)
		}
		if err := s.startChild(ctx, c); err != nil {
			return nil, err
		}
		s.children = append(s.children, c)
		return c.pid, nil
	case supTerminateChild:
		i := s.find(r.id, r.pid)
		if i < 0 {
			return nil, fmt.Errorf("%w: %q %s", ErrNoChild, r.id, r.pid)
		}
		s.stopChild(s.children[i])
		s.children = append(s.children[:i], s.children[i+1:]...)
		return nil, nil
	case supWhichChildren:
		out := make([]ChildInfo, len(s.children))
		for i, c := range s.children {
			out[i] = ChildInfo{ID: c.spec.ID, PID: c.pid, Restart: c.spec.Restart}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown supervisor request %T", ErrBadDest, req)
}

// find returns the index of the child with id (or, if id is empty, pid).
func (s *supState) find(id string, pid PID) int {
	for i, c := range s.children {
		if id != "" && c.spec.ID == id || id == "" && !pid.IsZero() && c.pid == pid {
			return i
		}
	}
	return -1
}

// childExited handles the exit of a running child: maybe restart it (and
// others, by strategy), counting against the intensity.
func (s *supState) childExited(ctx context.Context, c *supChild, reason error) error {
	old := c.pid
	delete(s.byPID, old)
	c.pid = PID{}
	abnormal := !isNormal(reason) && !errors.Is(reason, Shutdown)
	if c.spec.Restart == Temporary || c.spec.Restart == Transient && !abnormal {
		if c.spec.Restart == Temporary {
			if i := s.find(c.spec.ID, PID{}); i >= 0 {
				s.children = append(s.children[:i], s.children[i+1:]...)
			}
		}
		return nil
	}
	s.waitBody(old, c.spec.Shutdown) // the replacement must not overlap the old body
	for {
		if !s.allowRestart() {
			return &SupervisorError{Child: c.spec.ID, Reason: reason}
		}
		err := s.restart(ctx, c)
		if err == nil {
			return nil
		}
		s.n.logger.Warn("supervisor: restart failed", "supervisor", s.p.pid, "child", c.spec.ID, "error", err)
		reason = err // a failed start counts as another failure
	}
}

// restart restarts c, and the children its strategy takes along.
func (s *supState) restart(ctx context.Context, c *supChild) error {
	switch s.spec.Strategy {
	case OneForAll:
		s.stopFrom(0)
		return s.startFrom(ctx, 0)
	case RestForOne:
		i := s.find(c.spec.ID, PID{})
		s.stopFrom(i + 1)
		return s.startFrom(ctx, i)
	default:
		return s.startChild(ctx, c)
	}
}

// allowRestart records a restart now, unless Intensity restarts already
// happened within Period.
func (s *supState) allowRestart() bool {
	now := time.Now()
	kept := s.restarts[:0]
	for _, t := range s.restarts {
		if now.Sub(t) < s.spec.Period {
			kept = append(kept, t)
		}
	}
	s.restarts = kept
	if len(s.restarts) >= s.spec.Intensity {
		return false
	}
	s.restarts = append(s.restarts, now)
	return true
}

// startFrom starts, in order, every child from index i on that is not
// running, stopping at the first failure.
func (s *supState) startFrom(ctx context.Context, i int) error {
	for _, c := range s.children[i:] {
		if !c.pid.IsZero() {
			continue
		}
		if err := s.startChild(ctx, c); err != nil {
			return fmt.Errorf("node: supervisor: start child %q: %w", c.spec.ID, err)
		}
	}
	return nil
}

// stopFrom stops, in reverse order, every running child from index i on.
func (s *supState) stopFrom(i int) {
	for j := len(s.children) - 1; j >= i; j-- {
		if !s.children[j].pid.IsZero() {
			s.stopChild(s.children[j])
		}
	}
}

// stopAll stops every child, last started first.
func (s *supState) stopAll() { s.stopFrom(0) }

// startChild spawns c linked to the supervisor, registered under its
// names before its body runs.
func (s *supState) startChild(ctx context.Context, c *supChild) error {
	opts := append(append([]SpawnOption(nil), c.spec.Options...), WithLink(s.p.pid))
	if c.spec.Name != "" {
		opts = append(opts, WithName(c.spec.Name))
	}
	if v := c.spec.Via; v != nil {
		opts = append(opts, WithVia(v.Registry, v.Key, v.Value))
	}
	body := c.spec.Start
	var gate chan struct{}
	if c.spec.Global != "" {
		gate = make(chan struct{})
		start := body
		body = func(ctx context.Context, p *Process) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			return start(ctx, p)
		}
	}
	pid, err := s.n.Spawn(body, opts...)
	if err != nil {
		return err
	}
	if gate != nil {
		rctx, cancel := context.WithTimeout(ctx, globalRegisterTimeout)
		err := s.spec.Global.RegisterGlobalName(rctx, c.spec.Global, pid)
		cancel()
		if err != nil {
			s.p.Unlink(pid)
			_ = s.n.Exit(pid, Killed)
			return fmt.Errorf("global name %q: %w", c.spec.Global, err)
		}
		close(gate)
	}
	c.pid = pid
	s.byPID[pid] = c
	return nil
}

// stopChild shuts c down: Exit with Shutdown (or Killed for BrutalKill),
// then Killed if its body has not returned within its Shutdown.
func (s *supState) stopChild(c *supChild) {
	pid := c.pid
	delete(s.byPID, pid)
	c.pid = PID{}
	s.p.Unlink(pid) // its exit is ours to cause, not to handle
	if c.spec.Shutdown == BrutalKill {
		_ = s.n.Exit(pid, Killed)
	} else {
		_ = s.n.Exit(pid, Shutdown)
	}
	if !s.waitBody(pid, c.spec.Shutdown) {
		_ = s.n.Exit(pid, Killed)
		s.waitBody(pid, c.spec.Shutdown)
	}
}

// waitBody waits up to the child's shutdown time for pid's body to return,
// and reports whether it did.
func (s *supState) waitBody(pid PID, d time.Duration) bool {
	if d <= 0 {
		d = DefaultShutdown
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, err := s.n.Wait(ctx, pid); err != nil {
		s.n.logger.Warn("supervisor: child body still running", "supervisor", s.p.pid, "child", pid, "after", d)
		return false
	}
	return true
}
