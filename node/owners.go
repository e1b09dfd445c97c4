package node

import (
	"fmt"

	"github.com/roster-dev/roster/local"
)

var (
	_ local.Owners[PID]       = (*Node)(nil)
	_ local.ExitedOwners[PID] = (*Node)(nil)
)

// Exited implements local.ExitedOwners: it reports whether pid, a process
// of this boot of this node, has exited (its exit listeners may still be
// running) and its exit reason; a pid no longer in the table has exited
// with its cleanup done (reason NoProc: forgotten). Pids of other nodes
// report false (they own no entries here). Registries use it to treat a name held by a dead
// process as free while that process's cleanup is on its way.
func (n *Node) Exited(pid PID) (error, bool) {
	if !n.isLocal(pid) {
		return nil, false
	}
	p := n.lookupAny(pid)
	if p == nil {
		return NoProc, true // gone: its exit cleanup has run
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason, p.exited
}

// Attach asks for l.OwnerExited(pid, reason) to be called once, after pid
// exits, with its exit reason. It implements local.Owners so registries can
// drop a process's entries when it exits. It fails with an error wrapping
// local.ErrNoProc if pid is not a live process of this node: once a process
// is marked dead, Attach fails, so a registration either sees the exit
// callback or is rolled back. Attaching the same listener again is counted:
// OwnerExited is still called once, and it takes as many Detach calls to
// cancel. Called from any goroutine; it does not block.
func (n *Node) Attach(pid PID, l local.ExitListener[PID]) error {
	if l == nil {
		return fmt.Errorf("%w: nil exit listener", ErrNilFunc)
	}
	p := n.lookup(pid)
	if p == nil {
		return fmt.Errorf("%w: %w: %s", local.ErrNoProc, ErrNoProc, pid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return fmt.Errorf("%w: %w: %s", local.ErrNoProc, ErrNoProc, pid)
	}
	if p.listeners == nil {
		p.listeners = make(map[local.ExitListener[PID]]int)
	}
	p.listeners[l]++
	return nil
}

// Detach cancels one Attach of l to pid. After the last Detach returns, no
// OwnerExited call for (pid, l) starts (one already running may finish).
// Unknown pids and listeners are ignored.
func (n *Node) Detach(pid PID, l local.ExitListener[PID]) {
	p := n.lookupAny(pid) // exiting processes too: their callbacks may be pending
	if p == nil {
		return
	}
	p.mu.Lock()
	if c := p.listeners[l]; c > 1 {
		p.listeners[l] = c - 1
	} else {
		delete(p.listeners, l)
	}
	p.mu.Unlock()
}

// notifyListeners calls every attached exit listener once with reason. It
// takes them one at a time so a concurrent Detach is honoured.
func (p *Process) notifyListeners(reason error) {
	for {
		var l local.ExitListener[PID]
		p.mu.Lock()
		for k := range p.listeners {
			l = k
			break
		}
		delete(p.listeners, l)
		p.mu.Unlock()
		if l == nil {
			return
		}
		l.OwnerExited(p.pid, reason)
	}
}
