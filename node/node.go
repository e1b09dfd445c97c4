package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/transport"
)

// PID identifies a process anywhere in the cluster; it is never reused.
type PID = transport.PID

// NodeID names a node.
type NodeID = transport.NodeID

// ParsePID parses the compact string form of a PID ("node.inc.serial").
var ParsePID = transport.ParsePID

// Node runs processes and routes messages and signals between them, locally
// and, through its Transport, to other nodes. All methods are safe for
// concurrent use.
type Node struct {
	cfg    Config
	id     NodeID
	inc    uint64
	logger hclog.Logger
	tr     transport.Transport

	serial atomic.Uint64 // last process serial handed out
	refs   atomic.Uint64 // last monitor reference handed out

	mu      sync.RWMutex        // guards procs, closing
	procs   map[uint64]*Process // live processes by serial
	closing bool

	monMu sync.Mutex         // guards mons
	mons  map[Ref]monitorRec // monitors held by local watchers

	names  *local.Registry[PID]
	groups *local.Registry[PID]

	aliases aliasTable   // calls waiting for an answer, by alias
	inCalls inboundCalls // calls from other nodes to local processes, not yet answered

	global   atomic.Pointer[globalBox]
	requests atomic.Pointer[requestBox]
	out      *outbox

	wg        sync.WaitGroup // every goroutine the node starts
	ctx       context.Context
	cancel    context.CancelFunc
	startOnce sync.Once
	started   atomic.Bool
	startErr  error
	shutOnce  sync.Once
	shutDone  chan struct{}

	stats stats
	types typeTable // registered message types (RegisterType)
}

// New builds a node from a copy of cfg. Local processes can be spawned at
// once; Start connects the transport.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg
	if err := c.resolve(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: c, id: c.NodeID, inc: c.Incarnation, tr: c.Transport,
		logger: c.Logger.Named("node"),
		procs:  make(map[uint64]*Process),
		mons:   make(map[Ref]monitorRec),
		ctx:    ctx, cancel: cancel,
		shutDone: make(chan struct{}),
	}
	n.out = newOutbox(n)
	if c.Global != nil {
		n.SetGlobal(c.Global)
	}
	if c.Requests != nil {
		n.SetRequestHandler(c.Requests)
	}
	var err error
	if n.names, err = n.NewRegistry(local.Config[PID]{Name: "names", Keys: local.Unique, Partitions: c.RegistryPartitions, Listeners: c.NameListeners}); err != nil {
		cancel()
		return nil, err
	}
	if n.groups, err = n.NewRegistry(local.Config[PID]{Name: "groups", Keys: local.DuplicateByPID, Partitions: c.RegistryPartitions, Listeners: c.GroupListeners}); err != nil {
		cancel()
		return nil, err
	}
	if n.tr != nil {
		n.tr.SetHandler(n)
	}
	return n, nil
}

// Start starts the transport (if any) and the goroutine that sends signals
// to other nodes. It does not block (a done ctx fails it at once) and is
// idempotent.
func (n *Node) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.startOnce.Do(func() {
		n.mu.RLock()
		closing := n.closing
		n.mu.RUnlock()
		if closing {
			n.startErr = ErrShutdown
			return
		}
		if n.tr != nil {
			if err := n.tr.Start(); err != nil {
				n.startErr = fmt.Errorf("node: start transport: %w", err)
				return
			}
		}
		if !n.goTracked(n.out.run) {
			n.startErr = ErrShutdown
			return
		}
		n.started.Store(true)
		n.logger.Debug("started", "node", n.id, "incarnation", n.inc)
	})
	return n.startErr
}

// Shutdown kills every process with reason Shutdown, stops the signal
// sender, closes the transport and waits for the node's goroutines (process
// goroutines included) or ctx's end. It is idempotent; later calls wait for
// the first to finish.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutOnce.Do(func() {
		go func() {
			defer close(n.shutDone)
			n.shutdown()
		}()
	})
	select {
	case <-n.shutDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node: shutdown: %w", ctx.Err())
	}
}

// shutdownDrain bounds how long Shutdown waits for queued signals to reach
// the transport.
const shutdownDrain = time.Second

// shutdown does the work of Shutdown.
func (n *Node) shutdown() {
	n.mu.Lock()
	n.closing = true
	procs := make([]*Process, 0, len(n.procs))
	for _, p := range n.procs {
		procs = append(procs, p)
	}
	n.mu.Unlock()
	for _, p := range procs {
		p.terminate(Shutdown)
	}
	// Let the outbox tell other nodes (Down and exit signals with reason
	// Shutdown), for a bounded time, before cancelling its sends.
	n.out.stop()
	if n.started.Load() {
		select {
		case <-n.out.finished:
		case <-time.After(shutdownDrain):
		}
	}
	n.cancel()
	n.wg.Wait()
	if n.tr != nil {
		if err := n.tr.Close(); err != nil {
			n.logger.Warn("closing transport", "error", err)
		}
	}
	n.logger.Debug("shut down", "node", n.id)
}

// goTracked runs fn on a goroutine counted by Shutdown's wait.
// It returns false, and does not run fn, once Shutdown has begun: holding
// the read lock orders the wg.Add before shutdown's wg.Wait (shutdown sets
// closing under the write lock).
func (n *Node) goTracked(fn func()) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closing {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

// ID returns the node's id.
func (n *Node) ID() NodeID { return n.id }

// Incarnation returns the node's incarnation (random per boot, non-zero).
func (n *Node) Incarnation() uint64 { return n.inc }

// Logger returns the node's logger.
func (n *Node) Logger() hclog.Logger { return n.logger }

// isLocal reports whether pid was issued by this boot of this node.
func (n *Node) isLocal(pid PID) bool { return pid.Node == n.id && pid.Incarnation == n.inc }

// lookup returns the live local process pid, or nil.
func (n *Node) lookup(pid PID) *Process {
	if p := n.lookupAny(pid); p != nil && !p.dead.Load() {
		return p
	}
	return nil
}

// lookupAny returns the local process pid if it is in the table: alive, or
// exiting (its exit listeners not yet all called).
func (n *Node) lookupAny(pid PID) *Process {
	if !n.isLocal(pid) {
		return nil
	}
	n.mu.RLock()
	p := n.procs[pid.Serial]
	n.mu.RUnlock()
	return p
}

// Alive reports whether pid is a live process of this node. For pids of
// other nodes it returns false (it never asks the network).
func (n *Node) Alive(pid PID) bool { return n.lookup(pid) != nil }

// Processes returns the number of live processes.
func (n *Node) Processes() int {
	return int(n.stats.spawned.Load() - n.stats.exited.Load())
}

// Stats are counters since New.
type Stats struct {
	Spawned  uint64 // processes spawned
	Exited   uint64 // processes exited
	Live     int    // processes alive now
	MsgsIn   uint64 // messages put into local mailboxes (local and remote senders)
	MsgsOut  uint64 // messages handed to the transport for other nodes
	Dropped  uint64 // messages discarded: dead or stale receiver, full mailbox, exit with a non-empty mailbox, unregistered type or undecodable body from a peer
	Signals  uint64 // monitor, link, down and exit signals sent to other nodes
	Received uint64 // envelopes received from other nodes
}

// stats holds the counters.
type stats struct {
	spawned, exited, in, out, dropped, signals, received atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (n *Node) Stats() Stats {
	return Stats{
		Spawned: n.stats.spawned.Load(), Exited: n.stats.exited.Load(), Live: n.Processes(),
		MsgsIn: n.stats.in.Load(), MsgsOut: n.stats.out.Load(), Dropped: n.stats.dropped.Load(),
		Signals: n.stats.signals.Load(), Received: n.stats.received.Load(),
	}
}
