package node

import (
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// terminate ends the process with reason, once: it marks the process dead,
// cancels its ctx, discards its mailbox, tells the exit listeners
// (registries drop its names), removes it from the node's table (once its
// body has returned too), fires the monitors of it, removes the monitors it holds and sends exit signals to
// its links, in that order, so a watcher that gets Down finds the names
// already gone. It may run on any goroutine; it is a no-op after the first
// call.
func (p *Process) terminate(reason error) {
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return
	}
	p.exited = true
	p.dead.Store(true)
	p.reason = reason
	links, watchers, owned := p.links, p.watchers, p.owned
	p.links, p.watchers, p.owned = nil, nil, nil
	p.mu.Unlock()

	n := p.node
	if p.calls.Load() > 0 {
		n.failCallsOf(p.pid)
	}
	p.ctx.cancel()
	if dropped := p.mb.close(); dropped > 0 {
		n.stats.dropped.Add(uint64(dropped))
	}
	// Listeners run while the process is still in the table (dead, so
	// lookup misses it) so that a concurrent Detach can find it. It stays
	// there until its body has returned too (see settle), so Wait can find
	// a killed process whose goroutine still runs.
	p.notifyListeners(reason)
	p.settle(false)
	n.stats.exited.Add(1)

	for ref := range owned {
		n.demonitor(ref, PID{})
	}
	for k := range watchers {
		n.sendDown(k, p.pid, reason)
	}
	for l := range links {
		n.sendExit(p.pid, l, reason, false)
	}
	if !isNormal(reason) {
		n.logger.Trace("process exited", "pid", p.pid, "reason", reason)
	}
}

// signal delivers an exit signal from `from` to p. A direct signal
// (Node.Exit) with reason Killed kills p whatever it traps. A link signal is
// ignored unless p is linked to from (the link is removed). Otherwise a
// trapping process gets an ExitSignal message, a Normal reason is ignored,
// and any other reason kills p with that reason.
func (p *Process) signal(from PID, reason error, direct bool) {
	if direct && reason == Killed {
		p.terminate(Killed)
		return
	}
	if !direct && !p.removeLink(from) {
		return
	}
	if p.trap.Load() {
		if err := p.deliver(Message{Body: ExitSignal{From: from, Reason: reason}}); err != nil {
			p.node.logger.Debug("exit signal not delivered", "to", p.pid, "error", err)
		}
		return
	}
	if isNormal(reason) {
		return
	}
	p.terminate(reason)
}

// Exit sends an exit signal with reason to pid, like erlang:exit/2: Killed
// kills it unconditionally; a process trapping exits gets an ExitSignal
// (From zero) instead; Normal is ignored by a process that does not trap
// exits; any other reason kills it with that reason. It returns ErrNoProc
// for a dead local pid; for a remote pid it returns once the signal is
// queued for the transport.
//
// What a kill means in Go: when Exit kills a local process, it returns with
// the process dead (Alive is false, sends to it fail with ErrNoProc), its
// names and registry entries removed, its monitors fired and its links
// signalled. Its goroutine, though, cannot be stopped from outside: its ctx
// is cancelled and every runtime call it makes fails (Receive and Call
// with ErrExited), but code that ignores both runs on until it returns. A
// lock it holds (local.Registry.Lock) is released only then. Use Wait to
// know when the body has returned, before starting anything that must not
// overlap with it.
func (n *Node) Exit(pid PID, reason error) error {
	if reason == nil {
		reason = Normal
	}
	if pid.IsZero() {
		return fmt.Errorf("%w: zero pid", ErrNoProc)
	}
	if pid.Node == n.id {
		p := n.lookup(pid)
		if p == nil {
			return fmt.Errorf("%w: %s", ErrNoProc, pid)
		}
		p.signal(PID{}, reason, true)
		return nil
	}
	if n.tr == nil {
		return fmt.Errorf("%w: %s", ErrNoRoute, pid.Node)
	}
	n.out.push(pid.Node, &transport.Envelope{Kind: transport.KindExit, To: pid, Ref: exitDirect, Reason: ReasonToWire(reason)})
	return nil
}

// sendExit delivers a link exit signal (or, with direct, an Exit) from a
// local process to `to`, local or remote.
func (n *Node) sendExit(from, to PID, reason error, direct bool) {
	if to.Node != n.id {
		if n.tr == nil {
			return
		}
		env := &transport.Envelope{Kind: transport.KindExit, From: from, To: to, Reason: ReasonToWire(reason)}
		if direct {
			env.Ref = exitDirect
		}
		n.out.push(to.Node, env)
		return
	}
	if p := n.lookup(to); p != nil {
		p.signal(from, reason, direct)
	}
}
