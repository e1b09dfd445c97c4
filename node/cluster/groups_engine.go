package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// groupRuntime is what the groups need of the process runtime: exit
// notifications and liveness of local processes, and delivery to them.
// *node.Node implements it. All methods may be called from any goroutine;
// none blocks for long (Send to a local pid never blocks).
type groupRuntime interface {
	// Attach and Detach ask for (and cancel) one OwnerExited call when a
	// local process exits; the runtime counts repeated Attach calls.
	Attach(pid node.PID, l local.ExitListener[node.PID]) error
	Detach(pid node.PID, l local.ExitListener[node.PID])
	// Alive reports whether pid is a live local process.
	Alive(pid node.PID) bool
	// Send delivers a Go value to a local process.
	Send(ctx context.Context, to node.Dest, msg any) error
	// HandleEnvelope delivers an inbound message (msgpack body) from a
	// peer, exactly as the transport would.
	HandleEnvelope(from node.NodeID, env *transport.Envelope)
}

// groupCaller sends one frame to a peer and waits for its answer: the
// transport's Call (authenticated, ordered per peer). Called from the link
// goroutines; it blocks until ctx ends.
type groupCaller interface {
	Call(ctx context.Context, peer node.NodeID, method string, body []byte) ([]byte, error)
}

// groupEngine holds a node's scopes and its links to peers. The cluster
// node feeds it membership's peer events (peerAlive, peerGone) and the
// transport's group RPCs (handleRequest).
type groupEngine struct {
	cfg    GroupConfig
	self   node.NodeID
	inc    uint64
	rt     groupRuntime
	tr     groupCaller
	logger hclog.Logger
	scopes map[string]*GroupScope
	list   []*GroupScope
	seq    atomic.Uint64 // frame sequence numbers, increasing over this incarnation

	mu     sync.Mutex // guards links, closed; taken before any GroupScope.mu
	links  map[node.NodeID]*groupLink
	closed bool
	wg     sync.WaitGroup

	stats groupCounters
}

// groupCounters are the engine's metrics.
type groupCounters struct {
	syncBytesOut, syncBytesIn   atomic.Uint64
	deltaBytesOut, deltaBytesIn atomic.Uint64
	syncsOut, syncsIn           atomic.Uint64
	rejected                    atomic.Uint64 // peer frames refused
	overflows                   atomic.Uint64 // per-peer queues that overflowed into a resync
	pubDropped                  atomic.Uint64 // publish items lost with a failed frame
	lastLagNanos                atomic.Int64  // from "resync needed" to the peer's ack, last one
	maxLagNanos                 atomic.Int64
}

func newGroupEngine(self node.NodeID, inc uint64, rt groupRuntime, tr groupCaller, cfg GroupConfig, logger hclog.Logger) (*groupEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	e := &groupEngine{
		cfg: cfg.withDefaults(), self: self, inc: inc, rt: rt, tr: tr,
		logger: logger.Named("groups"), scopes: make(map[string]*GroupScope),
		links: make(map[node.NodeID]*groupLink),
	}
	for _, name := range append([]string{DefaultGroupScope}, cfg.Scopes...) {
		if e.scopes[name] != nil {
			continue
		}
		s := newGroupScope(e, name, len(e.list))
		e.scopes[name] = s
		e.list = append(e.list, s)
	}
	return e, nil
}

// scope returns the named scope.
func (e *groupEngine) scope(name string) (*GroupScope, error) {
	if s := e.scopes[name]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrGroupUnknownScope, name)
}

// peerAlive is membership's word that peer id is alive at incarnation inc.
// A new peer, or a new incarnation of a known one, gets a fresh link that
// starts with a full sync of every scope; the old incarnation's members go
// (node_down). Called from membership's event goroutine; does not block.
func (e *groupEngine) peerAlive(id node.NodeID, inc uint64) {
	if id == e.self || inc == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if l := e.links[id]; l != nil {
		if l.inc == inc {
			return
		}
		l.stop()
	}
	l := newGroupLink(e, id, inc)
	e.links[id] = l
	for _, s := range e.list {
		s.peerAlive(id, inc, l)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		l.run()
	}()
}

// peerGone is membership's word that peer id (incarnation inc, 0 for any)
// is dead (why GroupNodeDown) or left (GroupNodeLeft): its members go from
// every view and its link stops. An event for an incarnation older than
// the one known is ignored. Called from membership's event goroutine.
func (e *groupEngine) peerGone(id node.NodeID, inc uint64, why GroupReason) {
	if id == e.self {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.links[id]
	if l != nil && inc != 0 && l.inc != inc {
		return
	}
	if l != nil {
		l.stop()
		delete(e.links, id)
	}
	for _, s := range e.list {
		s.peerGone(id, why)
	}
}

// reconcile makes the engine's peers match alive (id -> incarnation), the
// membership's current view: a periodic catch-up for missed events. Peers
// not in alive go with reason node_down.
func (e *groupEngine) reconcile(alive map[node.NodeID]uint64) {
	e.mu.Lock()
	var gone []node.NodeID
	for id, l := range e.links {
		if inc, ok := alive[id]; !ok || inc != l.inc {
			gone = append(gone, id)
		}
	}
	e.mu.Unlock()
	for _, id := range gone {
		e.peerGone(id, 0, GroupNodeDown)
	}
	for id, inc := range alive {
		e.peerAlive(id, inc)
	}
	// Views without a link (a frame raced a peerGone) go too.
	for _, s := range e.list {
		s.mu.Lock()
		for id := range s.views {
			if _, ok := s.peers[id]; !ok {
				s.dropView(id, GroupNodeDown)
			}
		}
		s.mu.Unlock()
	}
}

// close stops every link and ends every monitor. Idempotent.
func (e *groupEngine) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	for id, l := range e.links {
		l.stop()
		delete(e.links, id)
	}
	e.mu.Unlock()
	e.wg.Wait()
	for _, s := range e.list {
		s.mu.Lock()
		s.closed = true
		mons := s.mons
		s.mons = make(map[*GroupMonitor]struct{})
		s.mu.Unlock()
		for m := range mons {
			m.close(ErrGroupClosed)
		}
	}
}

// handleRequest serves the "groups.*" RPCs from peer `from` (authenticated
// by the transport). Called on the transport's request goroutine.
func (e *groupEngine) handleRequest(ctx context.Context, from node.NodeID, method string, body []byte) ([]byte, error) {
	var err error
	switch method {
	case groupMethodSync:
		err = e.acceptSync(from, body)
	case groupMethodDelta:
		err = e.acceptDelta(from, body)
	case groupMethodPublish:
		err = e.acceptPublish(ctx, from, body)
	default:
		err = fmt.Errorf("%w: unknown method %q", ErrGroupBadFrame, method)
	}
	if err != nil {
		e.stats.rejected.Add(1)
		e.logger.Debug("refused a group frame", "peer", from, "method", method, "error", err)
		return nil, err
	}
	return nil, nil
}

// isGroupMethod reports whether an RPC method belongs to the groups.
func isGroupMethod(method string) bool { return strings.HasPrefix(method, groupMethodPrefix) }

// recordLag notes how long a peer took to converge after a resync was
// needed.
func (e *groupEngine) recordLag(d time.Duration) {
	e.stats.lastLagNanos.Store(int64(d))
	for {
		cur := e.stats.maxLagNanos.Load()
		if int64(d) <= cur || e.stats.maxLagNanos.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}
