package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// Ref identifies a monitor. It is unique within one boot of the node that
// created it.
type Ref uint64

// monitorRec is a monitor held by a local watcher.
type monitorRec struct {
	watcher PID
	// target is the monitored pid; for a RemoteName monitor only its Node
	// is set (see nameTarget) and name holds the name.
	target PID
	name   string
}

// nameTarget reports whether a monitor or call target is a name on another
// node whose pid is not known yet.
func nameTarget(t PID) bool { return t.Serial == 0 }

// monKey identifies a monitor on the target's side: refs are only unique
// per watching node, so the watcher pid is part of the key.
type monKey struct {
	watcher PID
	ref     Ref
}

// Monitor makes p watch target (a PID, or a Dest that names one): when
// the target exits p gets a Down message with its reason. A target that is
// already dead or unknown (a pid, or a Name or Global nobody holds; the
// Down's PID then has only Node and Incarnation set) gives an immediate
// Down with NoProc, never an error; a target
// on an unreachable node gives Down with NoConnection. A RemoteName is
// resolved by its node (Erlang's monitor(process, {Name, Node})): a name not
// registered there gives Down with NoProc, whose PID then has only Node and
// Incarnation set; otherwise the Down names the process the name led to.
func (p *Process) Monitor(target Dest) (Ref, error) {
	return p.node.Monitor(p.pid, target)
}

// Demonitor removes the monitor ref held by p. After it returns no Down for
// ref is delivered (one already in the mailbox stays there).
func (p *Process) Demonitor(ref Ref) {
	p.node.demonitor(ref, p.pid)
}

// Monitor makes the local process watcher monitor target, for callers that
// are not processes themselves (the daemon spawns a process and monitors
// on its behalf). See Process.Monitor. It fails with ErrNoProc if watcher is
// not a live local process, and with the name errors of Send if target is a
// name that does not resolve.
func (n *Node) Monitor(watcher PID, target Dest) (Ref, error) {
	w := n.lookup(watcher)
	if w == nil {
		return 0, fmt.Errorf("%w: watcher %s", ErrNoProc, watcher)
	}
	var name string
	pid, err := n.resolve(context.Background(), target)
	if rn, ok := target.(RemoteName); ok && rn.Node != n.id {
		pid, name, err = PID{Node: rn.Node}, rn.Name, nil
	}
	if errors.Is(err, ErrNotFound) {
		// A name nobody holds (local or global): an immediate Down with
		// NoProc, as for a dead pid (Erlang's monitor of a registered
		// name that is not there).
		pid, err = PID{Node: n.id, Incarnation: n.inc}, nil
	}
	if err != nil {
		return 0, err
	}
	if pid == watcher {
		return 0, fmt.Errorf("%w: monitor", ErrSelf)
	}
	ref := Ref(n.refs.Add(1))
	n.monMu.Lock()
	n.mons[ref] = monitorRec{watcher: watcher, target: pid, name: name}
	n.monMu.Unlock()
	if !w.addOwned(ref) {
		n.monMu.Lock()
		delete(n.mons, ref)
		n.monMu.Unlock()
		return 0, ErrExited
	}

	switch {
	case pid.Node != n.id:
		if n.tr == nil {
			n.fireDown(ref, pid, NoConnection)
			break
		}
		n.out.push(pid.Node, &transport.Envelope{Kind: transport.KindMonitor, From: watcher, To: pid, ToName: name, Ref: uint64(ref)})
	default:
		t := n.lookup(pid)
		if t == nil || !t.addWatcher(monKey{watcher: watcher, ref: ref}) {
			n.fireDown(ref, pid, NoProc)
		}
	}
	return ref, nil
}

// Demonitor removes monitor ref whichever local process holds it. See
// Process.Demonitor.
func (n *Node) Demonitor(ref Ref) { n.demonitor(ref, PID{}) }

// demonitor removes monitor ref; when owner is non-zero only if owner holds it.
func (n *Node) demonitor(ref Ref, owner PID) {
	n.monMu.Lock()
	rec, ok := n.mons[ref]
	if ok && (owner.IsZero() || rec.watcher == owner) {
		delete(n.mons, ref)
	} else {
		ok = false
	}
	n.monMu.Unlock()
	if !ok {
		return
	}
	if w := n.lookup(rec.watcher); w != nil {
		w.removeOwned(ref)
	}
	if rec.target.Node != n.id {
		if n.tr != nil {
			n.out.push(rec.target.Node, &transport.Envelope{Kind: transport.KindDemonitor, From: rec.watcher, To: rec.target, ToName: rec.name, Ref: uint64(ref)})
		}
		return
	}
	if t := n.lookup(rec.target); t != nil {
		t.removeWatcher(monKey{watcher: rec.watcher, ref: ref})
	}
}

// fireDown completes monitor ref of target with reason: the watcher gets a
// Down message, once, unless the monitor was removed.
func (n *Node) fireDown(ref Ref, target PID, reason error) {
	n.monMu.Lock()
	rec, ok := n.mons[ref]
	if ok && (rec.target == target || nameTarget(rec.target) && rec.target.Node == target.Node) {
		delete(n.mons, ref)
	} else {
		ok = false
	}
	n.monMu.Unlock()
	if !ok {
		return
	}
	w := n.lookup(rec.watcher)
	if w == nil {
		return
	}
	w.removeOwned(ref)
	if err := w.deliver(Message{Body: Down{Ref: ref, PID: target, Reason: reason}}); err != nil {
		n.logger.Debug("down not delivered", "to", rec.watcher, "error", err)
	}
}

// sendDown tells watcher k (local or remote) that target exited.
func (n *Node) sendDown(k monKey, target PID, reason error) {
	if k.watcher.Node == n.id {
		if k.watcher.Incarnation == n.inc && n.completeCallDown(k, target, reason) {
			return // the monitor of a call
		}
		n.fireDown(k.ref, target, reason)
		return
	}
	n.inCalls.take(k) // if it was a call's monitor, the call is over
	if n.tr != nil {
		n.out.push(k.watcher.Node, &transport.Envelope{Kind: transport.KindDown, From: target, To: k.watcher, Ref: uint64(k.ref), Reason: ReasonToWire(reason)})
	}
}

// failMonitors fires Down with reason for every monitor whose target is on
// node and matches (see peerMatch); with names, RemoteName monitors of node
// too. It runs on membership or transport callbacks; it is O(monitors) and
// does not block.
func (n *Node) failMonitors(node NodeID, match func(PID) bool, reason error, names bool) {
	var hit []monitorRec
	var refs []Ref
	n.monMu.Lock()
	for ref, rec := range n.mons {
		if rec.target.Node == node && (nameTarget(rec.target) && names || !nameTarget(rec.target) && match(rec.target)) {
			hit = append(hit, rec)
			refs = append(refs, ref)
		}
	}
	n.monMu.Unlock()
	for i, ref := range refs {
		n.fireDown(ref, hit[i].target, reason)
	}
}

// addWatcher records a monitor of p; false if p has exited.
func (p *Process) addWatcher(k monKey) bool { return addIfAlive(p, &p.watchers, k) }

// addIfAlive adds k to the set *m of p (made on first use) unless p has
// exited, under p.mu.
func addIfAlive[K comparable](p *Process, m *map[K]struct{}, k K) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	if *m == nil {
		*m = make(map[K]struct{})
	}
	(*m)[k] = struct{}{}
	return true
}

// removeWatcher forgets a monitor of p.
func (p *Process) removeWatcher(k monKey) {
	p.mu.Lock()
	delete(p.watchers, k)
	p.mu.Unlock()
}

// addOwned records a monitor p holds; false if p has exited.
func (p *Process) addOwned(ref Ref) bool { return addIfAlive(p, &p.owned, ref) }

// removeOwned forgets a monitor p held.
func (p *Process) removeOwned(ref Ref) {
	p.mu.Lock()
	delete(p.owned, ref)
	p.mu.Unlock()
}
