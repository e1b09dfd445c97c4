package node

import (
	"context"
	"fmt"

	"github.com/roster-dev/roster/transport"
)

var _ transport.Handler = (*Node)(nil)

// exitDirect in the Ref field of a KindExit envelope marks an exit signal
// sent by Node.Exit (erlang:exit/2) rather than by a dying linked process:
// only a direct Killed is untrappable, and only link signals need a link.
const exitDirect = 1

// RequestHandler serves RPCs that arrive over the transport. The clustered
// node wires the global table's forwarded writes ("global.*" methods)
// through it.
type RequestHandler interface {
	// HandleRequest is called on its own goroutine per request and may
	// block until ctx is done.
	HandleRequest(ctx context.Context, from NodeID, method string, body []byte) ([]byte, error)
}

type requestBox struct{ h RequestHandler }

// SetRequestHandler installs the RPC handler (nil removes it). Safe at any
// time from any goroutine.
func (n *Node) SetRequestHandler(h RequestHandler) {
	if h == nil {
		n.requests.Store(nil)
		return
	}
	n.requests.Store(&requestBox{h: h})
}

// HandleRequest implements transport.Handler by passing the RPC to the
// RequestHandler.
func (n *Node) HandleRequest(ctx context.Context, from NodeID, method string, body []byte) ([]byte, error) {
	b := n.requests.Load()
	if b == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoHandler, method)
	}
	return b.h.HandleRequest(ctx, from, method, body)
}

// HandleEnvelope implements transport.Handler. It runs on the transport's
// reader goroutine and never blocks: deliveries go to mailboxes (a mutex),
// replies go to the outbox.
func (n *Node) HandleEnvelope(from NodeID, env *transport.Envelope) {
	n.stats.received.Add(1)
	if env.From.Node != "" && env.From.Node != from {
		n.logger.Warn("envelope with a foreign sender pid dropped", "peer", from, "from", env.From)
		return
	}
	switch env.Kind {
	case transport.KindMessage:
		n.handleMessage(env)
	case transport.KindMonitor:
		n.handleMonitor(env)
	case transport.KindDemonitor:
		n.handleDemonitor(env)
	case transport.KindDown:
		if env.To.Node == n.id {
			n.sendDown(monKey{watcher: env.To, ref: Ref(env.Ref)}, env.From, ReasonFromWire(env.Reason))
		}
	case transport.KindCall:
		n.handleCall(env)
	case transport.KindReply:
		n.handleReply(from, env)
	case transport.KindLink:
		t := n.lookup(env.To)
		if t == nil || !t.addLink(env.From) {
			n.sendExit(env.To, env.From, NoProc, false)
		}
	case transport.KindUnlink:
		if t := n.lookup(env.To); t != nil {
			t.removeLink(env.From)
		}
	case transport.KindExit:
		if t := n.lookup(env.To); t != nil {
			t.signal(env.From, ReasonFromWire(env.Reason), env.Ref == exitDirect)
		}
	default:
		n.logger.Warn("unknown envelope kind dropped", "peer", from, "kind", env.Kind)
	}
}

// handleMessage decodes and delivers an inbound user message. Messages to
// dead pids, to pids of another incarnation of this node, to unknown names,
// to full DropNewest mailboxes, carrying a stale global fence, naming a type
// this node has not registered or with a body that does not decode are
// dropped and counted (the last two also logged).
func (n *Node) handleMessage(env *transport.Envelope) {
	to := env.To
	if env.ToName != "" && to.IsZero() {
		pid, _, ok := n.names.Whereis(env.ToName)
		if !ok {
			n.stats.dropped.Add(1)
			return
		}
		to = pid
	}
	p := n.lookup(to)
	if p == nil || !n.fenceOK(env) {
		n.stats.dropped.Add(1)
		return
	}
	m, err := n.types.decode(env.From, env.Type, env.Body)
	if err != nil {
		n.stats.dropped.Add(1)
		n.logger.Warn("message from another node dropped", "from", env.From, "to", to, "error", err)
		return
	}
	_ = p.deliver(m) // counts its own drops
}

// PeerUp implements transport.Handler. A peer that comes back with a new
// incarnation has lost every process of the old one: their monitors fire
// Down and their links exit with NoConnection.
func (n *Node) PeerUp(peer NodeID, incarnation uint64) {
	if o := n.cfg.Peers; o != nil {
		o.PeerUp(peer, incarnation)
	}
	if incarnation == 0 {
		return
	}
	n.peerGone(peer, func(p PID) bool { return p.Incarnation != incarnation }, NoConnection, false)
}

// PeerDown implements transport.Handler: every monitor of the peer's
// processes fires Down with NoConnection, every link to them exits with
// NoConnection, and the peer's monitors of local processes are forgotten.
// It does not block (O(local processes + monitors)).
func (n *Node) PeerDown(peer NodeID, incarnation uint64, cause error) {
	n.logger.Debug("peer down", "peer", peer, "incarnation", incarnation, "cause", cause)
	if o := n.cfg.Peers; o != nil {
		o.PeerDown(peer, incarnation, cause)
	}
	n.peerGone(peer, matchIncarnation(incarnation), NoConnection, true)
}

// NodeDown tells the node that node id (incarnation 0: every incarnation)
// is dead, as the clustered node's gossip declared it: like PeerDown but
// with reason NodeDown. It does not block.
func (n *Node) NodeDown(id NodeID, incarnation uint64) {
	if id == n.id {
		return
	}
	n.peerGone(id, matchIncarnation(incarnation), NodeDown, true)
}

// matchIncarnation matches pids of incarnation inc (any when inc is 0).
func matchIncarnation(inc uint64) func(PID) bool {
	return func(p PID) bool { return inc == 0 || p.Incarnation == inc }
}

// peerGone fails the monitors of, calls to and links to the matching
// processes of node with reason (with names, also monitors of and calls to
// names on node, whose pid is not known), and drops node's monitors of
// local processes and its calls to them.
func (n *Node) peerGone(node NodeID, match func(PID) bool, reason error, names bool) {
	n.failMonitors(node, match, reason, names)
	n.failCalls(node, match, reason, names)
	n.inCalls.dropCaller(node, match)
	n.mu.RLock()
	procs := make([]*Process, 0, len(n.procs))
	for _, p := range n.procs {
		procs = append(procs, p)
	}
	n.mu.RUnlock()
	for _, p := range procs {
		for _, l := range p.remoteLinks(node, match) {
			p.signal(l, reason, false)
		}
		p.dropWatchers(node, match)
	}
}

// remoteLinks returns the linked pids of node that match.
func (p *Process) remoteLinks(node NodeID, match func(PID) bool) []PID {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []PID
	for l := range p.links {
		if l.Node == node && match(l) {
			out = append(out, l)
		}
	}
	return out
}

// dropWatchers forgets monitors of p held by matching processes of node.
func (p *Process) dropWatchers(node NodeID, match func(PID) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.watchers {
		if k.watcher.Node == node && match(k.watcher) {
			delete(p.watchers, k)
		}
	}
}
