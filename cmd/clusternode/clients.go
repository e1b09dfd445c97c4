package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/transport"
)

// clients runs the processes that HTTP clients own: each is a real process
// on the node (it can own names and receive messages from anywhere) whose
// goroutine serves long-polls from its mailbox and exits when its TTL runs
// out without a renewal or a poll.
//
// Concurrency: mu guards procs only; it is never held while talking to a
// process goroutine or the backend.
type clients struct {
	be    backend
	clock clock

	// polling counts long-polls in progress (for /metrics and tests).
	polling atomic.Int64

	// maxProcs and maxPerOwner bound spawns (limits.go; 0: unbounded, for
	// tests that build clients by hand).
	maxProcs, maxPerOwner int

	mu    sync.Mutex
	procs map[transport.PID]*client
	owned map[string]int // owner token id -> live processes (ACLs on)
	total int            // live processes plus spawns in progress
}

// client is the daemon's handle on one client process.
type client struct {
	owner string // the ACL token id that spawned it ("" with ACLs off)
	renew chan renewReq
	polls chan *pollReq
	stop  chan struct{} // a send makes the process exit normally
	done  chan struct{} // closed when the process goroutine returns
}

// renewReq sets a new TTL; ack is closed once the timer was reset.
type renewReq struct {
	ttl time.Duration
	ack chan struct{}
}

// pollReq asks a client process for up to max messages, waiting until ctx
// is done for the first one.
type pollReq struct {
	ctx   context.Context
	max   int
	reply chan pollResult
}

type pollResult struct {
	msgs []inbound
	err  error
}

func newClients(be backend, clk clock) *clients {
	return &clients{be: be, clock: clk, procs: make(map[transport.PID]*client), owned: map[string]int{}}
}

// handoffBudget is how long a poll waits for its process to take it.
const handoffBudget = time.Second

// spawn starts a client process with the given TTL for owner (an ACL
// token id), within the node's and the owner's process bounds.
func (c *clients) spawn(ttl time.Duration, owner string) (transport.PID, error) {
	if err := c.reserve(owner); err != nil {
		return transport.PID{}, err
	}
	cl := &client{
		owner: owner,
		renew: make(chan renewReq),
		polls: make(chan *pollReq),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	ready := make(chan transport.PID, 1)
	pid, err := c.be.Spawn(func(ctx context.Context, mb mailbox) error {
		self := <-ready
		defer c.forget(self, cl)
		return cl.loop(ctx, mb, c.clock, ttl)
	})
	if err != nil {
		c.release(owner)
		return transport.PID{}, err
	}
	c.mu.Lock()
	c.procs[pid] = cl
	c.mu.Unlock()
	ready <- pid
	return pid, nil
}

func (c *clients) forget(pid transport.PID, cl *client) {
	c.mu.Lock()
	if c.procs[pid] == cl {
		delete(c.procs, pid)
	}
	c.mu.Unlock()
	c.release(cl.owner)
	close(cl.done)
}

// reserve counts a spawn against the bounds before it happens, so that
// concurrent spawns cannot overshoot them; release gives it back.
func (c *clients) reserve(owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxProcs > 0 && c.total >= c.maxProcs {
		return fmt.Errorf("%w: %d processes spawned over HTTP on this node (-max-processes)", errTooManyProcesses, c.total)
	}
	if c.maxPerOwner > 0 && owner != "" && c.owned[owner] >= c.maxPerOwner {
		return fmt.Errorf("%w: token %q has %d processes (-max-processes-per-token)", errTooManyProcesses, owner, c.owned[owner])
	}
	c.total++
	c.owned[owner]++
	return nil
}

func (c *clients) release(owner string) {
	c.mu.Lock()
	c.total--
	if c.owned[owner]--; c.owned[owner] <= 0 {
		delete(c.owned, owner)
	}
	c.mu.Unlock()
}

// ownerOf returns the token that spawned pid, if pid is a live client
// process of this node.
func (c *clients) ownerOf(pid transport.PID) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.procs[pid]
	if !ok {
		return "", false
	}
	return cl.owner, true
}

func (c *clients) get(pid transport.PID) (*client, error) {
	if self, _ := c.be.Self(); pid.Node != self {
		return nil, fmt.Errorf("%w: %s lives on node %s", errRemotePID, pid, pid.Node)
	}
	c.mu.Lock()
	cl := c.procs[pid]
	c.mu.Unlock()
	if cl == nil {
		return nil, fmt.Errorf("%w: %s is not a live client process", errNoProc, pid)
	}
	return cl, nil
}

// renew resets pid's TTL to ttl.
func (c *clients) renew(ctx context.Context, pid transport.PID, ttl time.Duration) error {
	cl, err := c.get(pid)
	if err != nil {
		return err
	}
	req := renewReq{ttl: ttl, ack: make(chan struct{})}
	select {
	case cl.renew <- req:
		<-req.ack
		return nil
	case <-cl.done:
		return fmt.Errorf("%w: %s exited", errNoProc, pid)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop makes pid exit with reason normal and waits until it has.
func (c *clients) stop(ctx context.Context, pid transport.PID) error {
	cl, err := c.get(pid)
	if err != nil {
		return err
	}
	select {
	case cl.stop <- struct{}{}:
	case <-cl.done:
		return fmt.Errorf("%w: %s exited", errNoProc, pid)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-cl.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poll returns up to max messages from pid's mailbox, waiting until ctx is
// done for the first. An empty result with a nil error means none came.
func (c *clients) poll(ctx context.Context, pid transport.PID, max int) ([]inbound, error) {
	cl, err := c.get(pid)
	if err != nil {
		return nil, err
	}
	c.polling.Add(1)
	defer c.polling.Add(-1)
	req := &pollReq{ctx: ctx, max: max, reply: make(chan pollResult, 1)}
	// The hand-off gets at least handoffBudget even for ?wait=0, so that a
	// poll finds queued messages while the process is between two selects.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handoffBudget)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > handoffBudget {
		hctx = ctx
	}
	select {
	case cl.polls <- req:
	case <-cl.done:
		return nil, fmt.Errorf("%w: %s exited", errNoProc, pid)
	case <-hctx.Done():
		// Another poll holds the mailbox for the whole wait: answer empty.
		return []inbound{}, nil
	}
	res := <-req.reply
	return res.msgs, res.err
}

// loop is the client process's body.
func (cl *client) loop(ctx context.Context, mb mailbox, clk clock, ttl time.Duration) error {
	t := clk.NewTimer(ttl)
	defer t.Stop()
	// A poll drains the mailbox on its own goroutine so that renewals and
	// DELETE are served while it waits; one poll at a time (polls is nil
	// while one runs). A poll counts as a renewal: the TTL is stopped while
	// it runs and restarts when it ends.
	polls := cl.polls
	finished := make(chan pollDone, 1)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx) // ends a running poll when the loop returns
	defer func() {
		// The process exits only after its last poll answered.
		cancel()
		wg.Wait()
		select {
		case d := <-finished:
			d.req.reply <- d.res // buffered
		default:
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			return errTTLExpired
		case <-cl.stop:
			return nil
		case req := <-cl.renew:
			ttl = req.ttl
			if polls != nil {
				t.Reset(ttl)
			}
			close(req.ack)
		case req := <-polls:
			t.Stop()
			polls = nil
			wg.Add(1)
			go func() {
				defer wg.Done()
				finished <- pollDone{req, drain(ctx, req, mb)}
			}()
		case d := <-finished:
			t.Reset(ttl)
			polls = cl.polls
			d.req.reply <- d.res
		}
	}
}

// pollDone is a finished poll, handed back to the process loop.
type pollDone struct {
	req *pollReq
	res pollResult
}

// drain waits for one message (until the poll's ctx or the process's ctx
// is done), then takes what else is queued, up to req.max.
func drain(procCtx context.Context, req *pollReq, mb mailbox) pollResult {
	ctx, cancel := context.WithCancel(req.ctx)
	defer cancel()
	stop := context.AfterFunc(procCtx, cancel)
	defer stop()
	msgs := make([]inbound, 0, 1)
	if errors.Is(req.ctx.Err(), context.Canceled) {
		return pollResult{msgs: msgs} // the client went: take nothing
	}
	if m, ok := mb.TryReceive(); ok {
		msgs = append(msgs, m)
	} else {
		m, err := mb.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return pollResult{msgs: msgs}
			}
			return pollResult{err: err}
		}
		msgs = append(msgs, m)
	}
	for len(msgs) < req.max {
		m, ok := mb.TryReceive()
		if !ok {
			break
		}
		msgs = append(msgs, m)
	}
	return pollResult{msgs: msgs}
}
