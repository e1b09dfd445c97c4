package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// SingletonSpec describes a singleton: a function that runs on exactly one
// node of the cluster at a time, as a process holding the global name Name
// (send to it with node.Global(Name)). Every node that may run it calls
// StartSingleton with the same spec; the nodes elect one by registering the
// name (quorum-safe), and when that node dies, leaves or is cut off from
// the majority, another starts it.
type SingletonSpec struct {
	// Name is the global name the running instance holds. Required.
	Name string
	// Run is the instance's body. Its ctx ends when the instance must stop
	// (its lease is running out, its name was lost, Stop or Leave); it must
	// then return within StopTimeout. Whatever it returns, the singleton is
	// started again (on this node or another): it runs until Stop. Required.
	Run node.ProcessFunc
	// Placement picks which candidate node claims a free singleton first.
	// Default PlaceRendezvous.
	Placement Placement
	// Eligible filters the candidate nodes by their gossip member (role,
	// tags); nil: every alive member. This node must be eligible too.
	Eligible func(membership.Member) bool
	// StopTimeout is how long Run has, after its ctx ends, to return.
	// Default (and most): the profile's lease stop budget (fast 250 ms,
	// lan 1 s). A Run that overruns breaks the exactly-one guarantee; it is
	// logged and counted.
	StopTimeout time.Duration
	// Meta is stored with the name (global meta).
	Meta []byte
	// Mailbox bounds the instance's mailbox (default: the node's default).
	Mailbox node.MailboxConfig
}

// Placement chooses the order in which candidate nodes claim a free
// singleton; the claim itself (a Raft registration) decides.
type Placement int

const (
	// PlaceRendezvous ranks nodes by a hash of (singleton name, node id):
	// each singleton has a stable preferred node, thousands spread evenly,
	// and a node joining or leaving moves only the singletons it wins or
	// held.
	PlaceRendezvous Placement = iota
	// PlaceLeastLoaded ranks nodes by how many global names they own,
	// fewest first (ties by rendezvous).
	PlaceLeastLoaded
	// PlaceAny lets every candidate claim at once: the fastest wins.
	PlaceAny
)

// SingletonInstance is one run of a singleton: where, under which fence
// (pass it to external resources so they reject older instances) and when.
type SingletonInstance struct {
	PID   node.PID
	Fence uint64
	Start time.Time
}

// Singleton is this node's candidacy for one singleton (StartSingleton).
type Singleton struct {
	n    *Node
	spec SingletonSpec
	stop context.CancelFunc
	done chan struct{}

	mu       sync.Mutex
	current  *SingletonInstance
	starts   int
	handoff  *handoffState // received from the previous instance (handoff.go)
	receiver node.PID      // the hand-off receiver process
}

// Errors of singletons and elections.
var (
	// ErrSingletonSpec: a SingletonSpec without a name or a body, or with a
	// negative StopTimeout.
	ErrSingletonSpec = errors.New("cluster: invalid singleton spec")
	// ErrSingletonStarted: this node already runs a candidacy for the name.
	ErrSingletonStarted = errors.New("cluster: singleton already started on this node")
)

type fenceKey struct{}

// InstanceFence returns, inside a singleton's Run, the fence of the
// registration the instance holds: larger than every earlier instance's,
// so an external resource that remembers the highest fence it saw can
// reject writes from an older instance.
func InstanceFence(ctx context.Context) (uint64, bool) {
	f, ok := ctx.Value(fenceKey{}).(uint64)
	return f, ok && f != 0
}

// claimStep is how long each rank waits after the one before it to claim a
// free singleton.
func (n *Node) claimStep() time.Duration {
	if n.cfg.Profile == ProfileFast {
		return 50 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// StartSingleton makes this node a candidate for spec: from now until Stop
// (or the node's Leave or Shutdown), it runs spec.Run whenever this node is
// the one the cluster elected. It returns at once; ctx bounds only the
// validation. See the lease rule in lease.go for the at-most-one argument.
func (n *Node) StartSingleton(ctx context.Context, spec SingletonSpec) (*Singleton, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lt := n.leases.lt
	switch {
	case spec.Run == nil:
		return nil, fmt.Errorf("%w: no Run function", ErrSingletonSpec)
	case spec.StopTimeout < 0:
		return nil, fmt.Errorf("%w: negative StopTimeout %v", ErrSingletonSpec, spec.StopTimeout)
	case spec.StopTimeout == 0 || spec.StopTimeout > lt.Stop:
		spec.StopTimeout = lt.Stop
	}
	if err := global.ValidateName(spec.Name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSingletonSpec, err)
	}
	n.singletonsMu.Lock()
	defer n.singletonsMu.Unlock()
	if n.ctx.Err() != nil || n.leaving.Load() {
		return nil, node.ErrShutdown
	}
	if n.singletons[spec.Name] != nil {
		return nil, fmt.Errorf("%w: %q", ErrSingletonStarted, spec.Name)
	}
	sctx, cancel := context.WithCancel(n.ctx)
	s := &Singleton{n: n, spec: spec, stop: cancel, done: make(chan struct{})}
	if err := s.startHandoffReceiver(); err != nil {
		cancel()
		return nil, err
	}
	n.singletons[spec.Name] = s
	n.leases.acquire()
	n.goTracked(func() {
		defer close(s.done)
		defer n.leases.release()
		defer func() { _ = n.Exit(s.receiver, node.Shutdown) }()
		s.run(sctx)
	})
	return s, nil
}

// Instance reports the instance running on this node, if any.
func (s *Singleton) Instance() (SingletonInstance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return SingletonInstance{}, false
	}
	return *s.current, true
}

// Stop ends this node's candidacy: a running instance is told to stop
// (its ctx ends) and Stop waits until it returned, so its name is free for
// another node when Stop returns. It waits at most until ctx ends.
func (s *Singleton) Stop(ctx context.Context) error {
	s.stop()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("cluster: singleton %q: stop: %w", s.spec.Name, ctx.Err())
	}
	s.n.singletonsMu.Lock()
	if s.n.singletons[s.spec.Name] == s {
		delete(s.n.singletons, s.spec.Name)
	}
	s.n.singletonsMu.Unlock()
	return nil
}

// stopSingletons stops every singleton of this node (Leave), each within
// its StopTimeout, resigns every leadership, and waits for them or ctx.
func (n *Node) stopSingletons(ctx context.Context) error {
	n.singletonsMu.Lock()
	all := make([]*Singleton, 0, len(n.singletons))
	for _, s := range n.singletons {
		all = append(all, s)
	}
	var leads []*Leadership
	for l := range n.leaderships {
		leads = append(leads, l)
	}
	n.singletonsMu.Unlock()
	var errs []error
	for _, l := range leads {
		if err := l.Resign(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range all {
		s.stop()
	}
	for _, s := range all {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run is the candidacy loop: wait until the name is free and this node's
// turn has come, claim it, run the instance until it must stop, repeat.
func (s *Singleton) run(ctx context.Context) {
	w := newNameWatch(s.n, s.spec.Name)
	defer w.close()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if !w.waitFree(ctx, s.n.leases.lt.successorWait()) {
			return
		}
		if !s.waitTurn(ctx, w) {
			continue
		}
		if !s.n.leases.valid(s.spec.StopTimeout + s.n.leases.lt.Renew/2) {
			// Not yet renewed (or cut off): no claim without a lease.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.n.leases.lt.Renew):
			}
			continue
		}
		ran := s.claimAndRun(ctx, w)
		if ran {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// waitTurn waits this node's rank in the placement order, then reports
// whether the name is still free.
func (s *Singleton) waitTurn(ctx context.Context, w *nameWatch) bool {
	rank := s.n.placementRank(s.spec)
	if rank > 0 {
		t := time.NewTimer(time.Duration(rank) * s.n.claimStep())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
				return w.free()
			case <-w.changed():
				if !w.free() {
					return false
				}
			}
		}
	}
	return w.free()
}

// claimAndRun spawns the instance parked, registers the name for it, and
// only then lets Run start; it returns after the instance returned (true)
// or when the claim failed (false).
func (s *Singleton) claimAndRun(ctx context.Context, w *nameWatch) bool {
	gate := make(chan struct{})
	returned := make(chan struct{})
	var fence atomic.Uint64  // set before gate opens
	var stopping atomic.Bool // the stop is a graceful one (Leave, Stop)
	stopRun := make(chan struct{})
	var stopOnce sync.Once
	tellStop := func() { stopOnce.Do(func() { close(stopRun) }) }
	opts := []node.SpawnOption{}
	if s.spec.Mailbox != (node.MailboxConfig{}) {
		opts = append(opts, node.WithMailbox(s.spec.Mailbox))
	}
	pid, err := s.n.Spawn(func(pctx context.Context, p *node.Process) error {
		defer close(returned)
		select {
		case <-gate:
		case <-pctx.Done():
			return node.Shutdown
		case <-stopRun:
			return node.Shutdown
		}
		f := fence.Load()
		bctx := context.WithValue(pctx, fenceKey{}, f)
		if h := s.takeHandoff(f); h != nil {
			bctx = context.WithValue(bctx, handoffKey{}, h)
		}
		rctx, cancel := context.WithCancel(bctx)
		defer cancel()
		go func() {
			select {
			case <-stopRun:
				cancel()
			case <-rctx.Done():
			}
		}()
		err := s.spec.Run(rctx, p)
		if stopping.Load() {
			// Told to stop by Leave or Stop: a hand-off goes out before
			// this process exits and frees the name.
			s.sendHandoff(err, f)
		}
		return err
	}, opts...)
	if err != nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	reg, err := s.n.RegisterGlobal(rctx, s.spec.Name, pid, s.spec.Meta)
	cancel()
	if err != nil {
		// Taken, no quorum, or an unknown outcome: the parked process exits
		// without running Run, and its exit takes the name if it got it.
		tellStop()
		<-returned
		return false
	}
	lt := s.n.leases.lt
	s.n.leases.track(s.spec.Name, reg.Fence)
	defer s.n.leases.untrack(s.spec.Name)
	if !s.n.leases.valid(s.spec.StopTimeout + lt.Renew) {
		tellStop()
		<-returned
		return false
	}
	fence.Store(reg.Fence)
	inst := SingletonInstance{PID: pid, Fence: reg.Fence, Start: time.Now()}
	s.mu.Lock()
	s.current = &inst
	s.starts++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.current = nil
		s.mu.Unlock()
	}()
	close(gate)
	s.n.stats.singletonStarts.Add(1)
	s.n.Logger().Info("singleton started", "name", s.spec.Name, "pid", pid, "fence", reg.Fence)
	why := s.supervise(ctx, w, pid, reg.Fence, returned)
	if why == "" {
		s.n.Logger().Info("singleton instance returned", "name", s.spec.Name, "pid", pid)
		return true
	}
	stopping.Store(why == "stop")
	tellStop()
	until, _, _ := s.n.leases.state(s.spec.Name, reg.Fence)
	deadline := time.Until(until)
	if why != "lease" || deadline < s.spec.StopTimeout {
		deadline = max(deadline, s.spec.StopTimeout)
	}
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case <-returned:
		s.n.Logger().Info("singleton stopped", "name", s.spec.Name, "pid", pid, "why", why)
	case <-t.C:
		s.n.stats.singletonOverruns.Add(1)
		s.n.Logger().Error("singleton instance did not return in time after being told to stop: exactly-one may be broken",
			"name", s.spec.Name, "pid", pid, "why", why, "budget", deadline)
		if ctx.Err() == nil {
			<-returned // its name stays until it returns; nothing else can claim it meanwhile
		}
	}
	return true
}

// supervise waits until the instance returns ("") or must stop: its lease
// runs out ("lease"), the leader says its registration is gone ("lost"),
// the name changed hands in the replica ("lost"), or the candidacy ends
// ("stop").
func (s *Singleton) supervise(ctx context.Context, w *nameWatch, pid node.PID, fence uint64, returned <-chan struct{}) string {
	for {
		until, lost, next := s.n.leases.state(s.spec.Name, fence)
		if lost || w.lostFence(fence) {
			return "lost"
		}
		stopAt := time.Until(until) - s.spec.StopTimeout
		if stopAt <= 0 {
			return "lease"
		}
		t := time.NewTimer(stopAt)
		select {
		case <-returned:
			t.Stop()
			return ""
		case <-ctx.Done():
			t.Stop()
			return "stop"
		case <-t.C:
		case <-next:
			t.Stop()
		case <-w.changed():
			t.Stop()
		}
	}
}
