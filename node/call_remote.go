package node

import (
	"fmt"

	"github.com/roster-dev/roster/transport"
)

// This file holds the callee's and the caller's sides of calls and name
// monitors that arrive from other nodes (see call.go, alias.go).

// resolveInbound returns the local pid an inbound envelope is for: To, or
// the process registered under ToName. ok is false for a name that is not
// registered here.
func (n *Node) resolveInbound(env *transport.Envelope) (PID, bool) {
	if env.ToName != "" && nameTarget(env.To) {
		pid, _, ok := n.names.Whereis(env.ToName)
		return pid, ok
	}
	return env.To, true
}

// selfNoPID is the Down sender for a name that is not registered here.
func (n *Node) selfNoPID() PID { return PID{Node: n.id, Incarnation: n.inc} }

// handleMonitor serves KindMonitor, by pid or by name.
func (n *Node) handleMonitor(env *transport.Envelope) {
	k := monKey{watcher: env.From, ref: Ref(env.Ref)}
	to, ok := n.resolveInbound(env)
	if !ok {
		n.sendDown(k, n.selfNoPID(), NoProc)
		return
	}
	t := n.lookup(to)
	if t == nil || !t.addWatcher(k) {
		n.sendDown(k, to, NoProc)
	}
}

// handleDemonitor serves KindDemonitor: of a call's monitor (the callee is
// remembered), of a pid, or of a name (the process the name leads to now).
func (n *Node) handleDemonitor(env *transport.Envelope) {
	k := monKey{watcher: env.From, ref: Ref(env.Ref)}
	to, ok := n.inCalls.take(k)
	if !ok {
		if to, ok = n.resolveInbound(env); !ok {
			return
		}
	}
	if t := n.lookup(to); t != nil {
		t.removeWatcher(k)
	}
}

// handleCall serves KindCall on the callee's node: it monitors the callee
// for the caller and delivers the request, or answers at once with a Down
// (NoProc for a missing callee, a stale-fence or mailbox-full code).
func (n *Node) handleCall(env *transport.Envelope) {
	k := monKey{watcher: env.From, ref: Ref(env.Ref)}
	to, ok := n.resolveInbound(env)
	if !ok {
		n.stats.dropped.Add(1)
		n.sendDown(k, n.selfNoPID(), NoProc)
		return
	}
	t := n.lookup(to)
	if t == nil {
		n.stats.dropped.Add(1)
		n.sendDown(k, to, NoProc)
		return
	}
	if !n.fenceOK(env) {
		n.stats.dropped.Add(1)
		n.sendCallFailure(k, to, callCodeStaleFence)
		return
	}
	if !t.addWatcher(k) {
		n.sendDown(k, to, NoProc)
		return
	}
	n.inCalls.add(k, to)
	from := env.From
	if from.Serial == 0 {
		from = PID{} // plain Go code on the caller's node
	}
	m, err := n.types.decode(from, env.Type, env.Body)
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Warn("call from another node dropped", "from", env.From, "to", to, "error", err)
		t.removeWatcher(k)
		if _, ok := n.inCalls.take(k); ok {
			n.sendCallFailure(k, to, callCodeBadRequest)
		}
		return
	}
	m.call = &ReplyTo{Caller: env.From, Ref: Ref(env.Ref)}
	if err := t.deliver(m); err != nil {
		t.removeWatcher(k)
		if _, ok := n.inCalls.take(k); ok {
			n.sendCallFailure(k, to, callCodeMailboxFull)
		}
	}
}

// sendCallFailure answers a call from another node whose live callee could
// not take it.
func (n *Node) sendCallFailure(k monKey, callee PID, code string) {
	if n.tr != nil {
		n.out.push(k.watcher.Node, &transport.Envelope{Kind: transport.KindDown, From: callee, To: k.watcher,
			Ref: uint64(k.ref), Reason: transport.Reason{Code: code}})
	}
}

// handleReply serves KindReply on the caller's node: the reply completes the
// call if its alias is still active, and is dropped otherwise.
func (n *Node) handleReply(from NodeID, env *transport.Envelope) {
	if env.To.Node != n.id || env.To.Incarnation != n.inc {
		n.stats.dropped.Add(1)
		return
	}
	m, err := n.types.decode(env.From, env.Type, env.Body)
	pc := n.aliases.take(Ref(env.Ref), env.To)
	if pc == nil {
		n.stats.dropped.Add(1) // late: the caller gave up
		return
	}
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Warn("reply from another node dropped", "from", env.From, "to", env.To, "error", err)
		pc.done <- callResult{from: env.From, reason: fmt.Errorf("%w: reply: %w", ErrDecode, err)}
		return
	}
	n.stats.in.Add(1)
	pc.done <- callResult{reply: m, replyNode: from}
}
