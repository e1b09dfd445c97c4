package node

import (
	"context"
	"fmt"
)

// settle records that the process's body returned (body) or that terminate
// told its exit listeners (!body). Whichever comes second removes the
// process from the node's table and wakes Wait. A process killed by Exit is
// dead at once, but its goroutine runs on until its function returns (Go
// cannot stop a goroutine), and only then is it gone.
func (p *Process) settle(body bool) {
	p.mu.Lock()
	if body {
		p.returned = true
	} else {
		p.cleaned = true
	}
	gone := p.returned && p.cleaned
	c := p.gonec
	if gone {
		p.gonec = closedCh
	}
	p.mu.Unlock()
	if !gone {
		return
	}
	n := p.node
	n.mu.Lock()
	delete(n.procs, p.pid.Serial)
	n.mu.Unlock()
	if c != nil && c != closedCh {
		close(c)
	}
}

// Wait waits until the local process pid is gone and returns its exit
// reason: dead, its names removed, its monitors fired, and its function
// returned. That last part is what Wait adds to a monitor's Down: after
// Exit(pid, Killed) returns the pid is dead and its names are gone, but its
// goroutine may still be running user code until it returns (or next waits
// on the runtime, which then fails with ErrExited). Code that must not
// overlap with the old body, such as a supervisor starting a replacement
// with the same side effects, waits for it with Wait.
//
// A pid that names no process here (never existed, or already gone: its
// reason is not kept) gives NoProc, as a monitor would; so Exit followed by
// Wait may see NoProc if the process went in between: use Stop to signal
// and wait without that race. A pid of another node
// fails with ErrNotLocal. Wait returns ctx's error if ctx ends first. It is
// for code outside the process: a process waiting for itself waits until
// ctx ends.
func (n *Node) Wait(ctx context.Context, pid PID) (reason error, err error) {
	if !pid.IsZero() && !n.isLocal(pid) {
		if pid.Node != n.id {
			return nil, fmt.Errorf("%w: wait %s", ErrNotLocal, pid)
		}
		return NoProc, nil // an older boot of this node
	}
	p := n.lookupAny(pid)
	if p == nil {
		return NoProc, nil
	}
	return p.wait(ctx)
}

// wait waits until p is gone (see Wait) and returns its exit reason.
func (p *Process) wait(ctx context.Context) (error, error) {
	p.mu.Lock()
	if p.gonec == nil {
		p.gonec = make(chan struct{})
	}
	c := p.gonec
	p.mu.Unlock()
	select {
	case <-c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason, nil
}

// ProcessInfo is a snapshot of a local process (Erlang's process_info).
type ProcessInfo struct {
	PID PID
	// MessageQueueLen is the number of messages in its mailbox.
	MessageQueueLen int
	// Links is the number of processes linked to it.
	Links int
	// Monitors is the number of monitors it holds; MonitoredBy the number
	// held on it (calls in flight to it included).
	Monitors, MonitoredBy int
	// TrapExit reports whether exit signals arrive as messages.
	TrapExit bool
}

// ProcessInfo returns a snapshot of the live local process pid, readable
// by any goroutine (a balancer reads mailbox lengths with it). It fails
// with ErrNoProc for a dead or unknown pid and ErrNotLocal for another
// node's. It does not block.
func (n *Node) ProcessInfo(pid PID) (ProcessInfo, error) {
	if pid.Node != n.id && !pid.IsZero() {
		return ProcessInfo{}, fmt.Errorf("%w: %s", ErrNotLocal, pid)
	}
	p := n.lookup(pid)
	if p == nil {
		return ProcessInfo{}, fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	info := ProcessInfo{PID: pid, MessageQueueLen: p.mb.len(), TrapExit: p.trap.Load()}
	p.mu.Lock()
	info.Links, info.Monitors, info.MonitoredBy = len(p.links), len(p.owned), len(p.watchers)
	exited := p.exited
	p.mu.Unlock()
	if exited {
		return ProcessInfo{}, fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	return info, nil
}

// Stop sends the exit signal reason to the local process pid (see Exit;
// nil means Shutdown) and waits, like Wait, until it is gone: dead, names
// removed, body returned. It returns the process's exit reason (a process
// trapping exits may choose another, or ignore the signal: then Stop waits
// until ctx ends). Unlike Exit followed by Wait it cannot miss a process
// that goes before Wait looks: it holds the process from the start. A pid
// that is not a live local process gives ErrNoProc (ErrNotLocal for
// another node's).
func (n *Node) Stop(ctx context.Context, pid PID, reason error) (exitReason error, err error) {
	if reason == nil {
		reason = Shutdown
	}
	if !pid.IsZero() && pid.Node != n.id {
		return nil, fmt.Errorf("%w: stop %s", ErrNotLocal, pid)
	}
	p := n.lookup(pid)
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	p.signal(PID{}, reason, true)
	return p.wait(ctx)
}
