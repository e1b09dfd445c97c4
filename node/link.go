package node

import (
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// Link links p and pid: when either exits with a reason other than Normal,
// the other gets an exit signal (see TrapExit). Linking to oneself or to an
// already linked pid is a no-op. A dead local pid gives ErrNoProc; a remote
// pid is linked through the transport, and if it turns out to be dead p
// gets an exit signal with reason NoProc (its node unreachable:
// NoConnection).
func (p *Process) Link(pid PID) error {
	n := p.node
	if pid.IsZero() {
		return fmt.Errorf("%w: zero pid", ErrNoProc)
	}
	if pid == p.pid {
		return nil
	}
	if pid.Node != n.id {
		if n.tr == nil {
			return fmt.Errorf("%w: %s", ErrNoRoute, pid.Node)
		}
		if !p.addLink(pid) {
			return ErrExited
		}
		n.out.push(pid.Node, &transport.Envelope{Kind: transport.KindLink, From: p.pid, To: pid})
		return nil
	}
	t := n.lookup(pid)
	if t == nil {
		return fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	if !p.addLink(pid) {
		return ErrExited
	}
	if !t.addLink(p.pid) {
		p.removeLink(pid)
		return fmt.Errorf("%w: %s", ErrNoProc, pid)
	}
	if p.dead.Load() {
		// p exited between the two halves: its exit signal may have
		// reached t before t's half existed. The link never formed.
		t.removeLink(p.pid)
		return ErrExited
	}
	return nil
}

// Unlink removes the link between p and pid, if any. After it returns p
// gets no exit signal through that link (a remote one already in flight is
// ignored because the link is gone).
func (p *Process) Unlink(pid PID) {
	if !p.removeLink(pid) {
		return
	}
	n := p.node
	if pid.Node != n.id {
		if n.tr != nil {
			n.out.push(pid.Node, &transport.Envelope{Kind: transport.KindUnlink, From: p.pid, To: pid})
		}
		return
	}
	if t := n.lookup(pid); t != nil {
		t.removeLink(p.pid)
	}
}

// Links returns the pids p is linked to.
func (p *Process) Links() []PID {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PID, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	return out
}

// addLink records a link to pid; false if p has exited.
func (p *Process) addLink(pid PID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	if p.links == nil {
		p.links = make(map[PID]struct{})
	}
	p.links[pid] = struct{}{}
	return true
}

// removeLink removes the link to pid and reports whether there was one.
func (p *Process) removeLink(pid PID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.links[pid]; !ok {
		return false
	}
	delete(p.links, pid)
	return true
}
