package node

import (
	"sync"

	"github.com/roster-dev/roster/internal/queue"
	"github.com/roster-dev/roster/transport"
)

// outbox queues signals (monitor, demonitor, down, link, unlink, exit) for
// other nodes and sends them from one goroutine, in order. Signals are
// produced on paths that must not block (the transport's reader goroutine,
// a process's exit), so they are queued here rather than sent inline. The
// queue is unbounded: signals are small and bounded by the number of
// monitors and links.
//
// User messages normally go straight to the transport (with its
// backpressure), but while signals for a peer are still queued here, a
// message for that peer queues behind them: signals and messages from one
// sender to one peer arrive in the order they were issued (Erlang's
// pairwise ordering), e.g. a Monitor then a Send.
type outbox struct {
	n        *Node
	q        *queue.Queue[outSignal]
	mu       sync.Mutex     // guards pending; taken before q's (a leaf)
	pending  map[NodeID]int // envelopes queued or being sent, per peer
	done     chan struct{}  // closed by stop
	finished chan struct{}  // closed when run returns
	once     sync.Once
}

type outSignal struct {
	peer NodeID
	env  *transport.Envelope
}

func newOutbox(n *Node) *outbox {
	return &outbox{
		n: n, q: queue.New[outSignal](), pending: make(map[NodeID]int),
		done: make(chan struct{}), finished: make(chan struct{}),
	}
}

// push queues env for peer. It never blocks.
func (o *outbox) push(peer NodeID, env *transport.Envelope) {
	o.mu.Lock()
	o.q.Push(outSignal{peer: peer, env: env})
	o.pending[peer]++
	o.mu.Unlock()
}

// pushIfPending queues env for peer only if envelopes for peer are queued
// or being sent, and reports whether it did.
func (o *outbox) pushIfPending(peer NodeID, env *transport.Envelope) bool {
	o.mu.Lock()
	if o.pending[peer] == 0 {
		o.mu.Unlock()
		return false
	}
	o.q.Push(outSignal{peer: peer, env: env})
	o.pending[peer]++
	o.mu.Unlock()
	return true
}

// sent marks one envelope for peer as handed to the transport (or failed).
func (o *outbox) sent(peer NodeID) {
	o.mu.Lock()
	if o.pending[peer]--; o.pending[peer] <= 0 {
		delete(o.pending, peer)
	}
	o.mu.Unlock()
}

// stop makes run return after it has sent what is queued.
func (o *outbox) stop() { o.once.Do(func() { close(o.done) }) }

// run sends queued signals until stop, then sends what is left.
func (o *outbox) run() {
	defer close(o.finished)
	for {
		select {
		case <-o.q.Wake():
			o.drain()
		case <-o.done:
			o.drain()
			return
		}
	}
}

// drain sends everything queued.
func (o *outbox) drain() {
	for {
		batch := o.q.Take()
		if len(batch) == 0 {
			return
		}
		for _, s := range batch {
			o.send(s)
		}
	}
}

// send hands one signal to the transport. When it cannot be sent, a monitor
// fires Down and a link exits with NoConnection, as if the peer went down.
func (o *outbox) send(s outSignal) {
	n := o.n
	err := n.tr.Send(n.ctx, s.peer, s.env)
	o.sent(s.peer)
	if err == nil {
		if s.env.Kind != transport.KindMessage {
			n.stats.signals.Add(1)
		}
		return
	}
	n.logger.Debug("signal not sent", "peer", s.peer, "kind", s.env.Kind, "error", err)
	switch s.env.Kind {
	case transport.KindMessage:
		n.stats.dropped.Add(1)
	case transport.KindMonitor:
		n.fireDown(Ref(s.env.Ref), s.env.To, NoConnection)
	case transport.KindLink:
		if p := n.lookup(s.env.From); p != nil {
			p.signal(s.env.To, NoConnection, false)
		}
	}
}
