package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// Leader election for Go code without a process model (etcd's
// concurrency.Election, plus a fence): Campaign blocks until this node
// holds the name, under the same lease rule as singletons (lease.go), and
// the returned Leadership says when to stop leading.

// Errors of Leadership.Err.
var (
	// ErrLeadershipLost: the name was taken away (an operator's unregister,
	// another owner's re-register, a purge after a cut-off).
	ErrLeadershipLost = errors.New("cluster: leadership lost")
	// ErrLeadershipInDoubt: this node could not renew its lease with a
	// quorum in time; another node may be elected once the lease has run
	// out.
	ErrLeadershipInDoubt = errors.New("cluster: leadership in doubt (lease not renewed)")
	// ErrResigned: Resign was called (or the node is leaving).
	ErrResigned = errors.New("cluster: leadership resigned")
)

// Leadership is a won Campaign. Its methods are safe for concurrent use.
type Leadership struct {
	n     *Node
	name  string
	pid   node.PID
	fence uint64

	done   chan struct{}
	once   sync.Once
	err    error
	resign context.CancelFunc
	exited chan struct{}
}

// Name is the name campaigned for.
func (l *Leadership) Name() string { return l.name }

// Fence is the registration's fence: unique to this term of leadership
// and larger than every earlier one, so a store can reject writes of an
// older leader.
func (l *Leadership) Fence() uint64 { return l.fence }

// PID is the process that holds the name (messages to the name reach it;
// they are discarded).
func (l *Leadership) PID() node.PID { return l.pid }

// Done is closed when this node must stop acting as leader: the lease is
// about to run out (in doubt), the name was lost, or Resign. The caller
// then has the profile's stop budget (fast 250 ms, lan 1 s) before another
// node may be elected.
func (l *Leadership) Done() <-chan struct{} { return l.done }

// Err says why Done closed (nil while leading).
func (l *Leadership) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// Resign gives the name up: Done closes, and the name is free for the
// next candidate when Resign returns (or ctx ends first).
func (l *Leadership) Resign(ctx context.Context) error {
	l.end(ErrResigned)
	l.resign()
	select {
	case <-l.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: resign %q: %w", l.name, ctx.Err())
	}
}

func (l *Leadership) end(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
	})
}

// Campaign blocks until this node holds name (meta stored with it) or ctx
// ends. It waits for the name to be free, for this node's lease, and, when
// the previous holder lost it to an operator or a re-register, for that
// holder's lease to run out.
func (n *Node) Campaign(ctx context.Context, name string, meta []byte) (*Leadership, error) {
	if err := global.ValidateName(name); err != nil {
		return nil, err
	}
	if n.ctx.Err() != nil || n.leaving.Load() {
		return nil, node.ErrShutdown
	}
	n.leases.acquire()
	w := newNameWatch(n, name)
	l, err := n.campaign(ctx, w, name, meta)
	if err != nil {
		w.close()
		n.leases.release()
		return nil, err
	}
	n.goTracked(func() {
		defer n.leases.release()
		defer w.close()
		l.keep(w)
	})
	return l, nil
}

func (n *Node) campaign(ctx context.Context, w *nameWatch, name string, meta []byte) (*Leadership, error) {
	lt := n.leases.lt
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wctx, wcancel := mergeDone(ctx, n.ctx)
		free := w.waitFree(wctx, lt.successorWait())
		wcancel()
		if !free {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, node.ErrShutdown
		}
		if !n.leases.valid(lt.Stop + lt.Renew/2) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(lt.Renew):
			}
			continue
		}
		rctx, resign := context.WithCancel(n.ctx)
		l := &Leadership{n: n, name: name, done: make(chan struct{}), resign: resign, exited: make(chan struct{})}
		pid, err := n.Spawn(func(pctx context.Context, p *node.Process) error {
			defer close(l.exited)
			hctx, hcancel := mergeDone(pctx, rctx)
			defer hcancel()
			for {
				if _, err := p.Receive(hctx); err != nil {
					return node.Normal
				}
			}
		}, node.WithMailbox(node.MailboxConfig{Limit: 16}))
		if err != nil {
			resign()
			return nil, err
		}
		reg, err := n.RegisterGlobal(ctx, name, pid, meta)
		if err != nil {
			resign()
			<-l.exited
			var already *global.AlreadyRegisteredError
			if errors.As(err, &already) || errors.Is(err, global.ErrAlreadyRegistered) {
				continue
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue // no quorum or unknown outcome: try again
		}
		l.pid, l.fence = pid, reg.Fence
		n.leases.track(name, reg.Fence)
		n.singletonsMu.Lock()
		n.leaderships[l] = struct{}{}
		n.singletonsMu.Unlock()
		return l, nil
	}
}

// keep watches the leadership until it ends, then frees the name: at
// once on Resign, after the stop budget otherwise (so the old leader's
// caller has stopped before the next leader can start).
func (l *Leadership) keep(w *nameWatch) {
	n, lt := l.n, l.n.leases.lt
	defer n.leases.untrack(l.name)
	resigned := false
	for {
		until, lost, next := n.leases.state(l.name, l.fence)
		if lost || w.lostFence(l.fence) {
			l.end(ErrLeadershipLost)
			break
		}
		stopAt := time.Until(until) - lt.Stop
		if stopAt <= 0 {
			l.end(ErrLeadershipInDoubt)
			break
		}
		t := time.NewTimer(stopAt)
		select {
		case <-l.exited:
			t.Stop()
			resigned = true
			l.end(ErrResigned)
		case <-t.C:
		case <-next:
			t.Stop()
		case <-w.changed():
			t.Stop()
		}
		if resigned {
			break
		}
	}
	if !resigned {
		select {
		case <-time.After(lt.Stop):
		case <-l.exited:
		}
		l.resign()
	}
	<-l.exited
	n.singletonsMu.Lock()
	delete(n.leaderships, l)
	n.singletonsMu.Unlock()
}

// mergeDone is a ctx that ends when either a or b does (or cancel).
func mergeDone(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// Observation is the holder of a name as an Observe stream reports it.
type Observation struct {
	Held  bool // false: nobody holds the name
	Owner node.PID
	Fence uint64
	Meta  []byte
}

// Observe reports name's holder now and at every change, on the local
// replica (followers' view of an election). The channel keeps only the
// latest observation for a slow reader, and closes when ctx ends.
func (n *Node) Observe(ctx context.Context, name string) (<-chan Observation, error) {
	if err := global.ValidateName(name); err != nil {
		return nil, err
	}
	out := make(chan Observation, 1)
	w := newNameWatch(n, name)
	n.goTracked(func() {
		defer close(out)
		defer w.close()
		var last Observation
		first := true
		for {
			next := w.changed()
			var cur Observation
			if reg, _, err := n.table.Lookup(ctx, name); err == nil {
				cur = Observation{Held: true, Owner: reg.Owner, Fence: reg.Fence, Meta: reg.Meta}
			}
			if first || cur.Held != last.Held || cur.Fence != last.Fence {
				first, last = false, cur
				select { // keep only the latest
				case <-out:
				default:
				}
				out <- cur
			}
			select {
			case <-ctx.Done():
				return
			case <-n.ctx.Done():
				return
			case <-next:
			}
		}
	})
	return out, nil
}
