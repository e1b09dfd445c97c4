package global

import (
	"sync"
	"sync/atomic"

	"github.com/google/btree"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// Bounds on the FSM's remembered history. They are part of the replicated
// state machine (eviction must be identical on every replica), so they are
// constants, not configuration.
const (
	// dedupSize is how many recent request ids (and their results) the FSM
	// remembers. At 10,000 writes/s that covers ~13 s, longer than the
	// default hold window, so a retried write is applied at most once.
	dedupSize = 1 << 17
	// purgedSize is how many purged (node, incarnation) pairs the FSM
	// remembers to refuse late registrations from dead incarnations.
	purgedSize = 4096
)

// incarnation names one boot of one node.
type incarnation struct {
	Node        transport.NodeID `msgpack:"n"`
	Incarnation uint64           `msgpack:"i"`
}

type nameSet map[string]struct{}

// fsm is the replicated name table. raft calls ApplyBatch, Snapshot and
// Restore from its FSM goroutine; readers take mu.RLock. mu guards every
// field except applied, and also the watcher set: Apply notifies watchers
// while holding it, with non-blocking sends only.
type fsm struct {
	logger hclog.Logger

	mu       sync.RWMutex
	names    map[string]Registration
	order    *btree.BTreeG[string]            // names, sorted: listings and pages
	byNode   map[transport.NodeID]*nodeOwners // owner index (owners.go)
	purged   map[incarnation]uint64           // -> raft index of the purge
	purgedQ  fifo[incarnation]
	dedup    map[reqID]result
	dedupQ   fifo[reqID]
	ring     eventRing
	watchers map[*watcher]struct{}
	closed   bool // set at shutdown: no new watchers
	// restoreErr is the last Restore failure. New refuses to start when
	// one happened while raft restored the newest snapshot at startup
	// (raft would fall back to an older snapshot without saying so).
	restoreErr error
	wg         sync.WaitGroup // watcher goroutines

	applied atomic.Uint64 // raft index of the last applied log
	fence   uint64        // fence of the command being applied (Apply only)
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(logger hclog.Logger) *fsm {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	f := &fsm{logger: logger, watchers: make(map[*watcher]struct{})}
	f.reset()
	return f
}

// reset empties the replicated state. The caller holds mu (or owns f).
func (f *fsm) reset() {
	f.names = make(map[string]Registration)
	f.order = btree.NewOrderedG[string](32)
	f.byNode = make(map[transport.NodeID]*nodeOwners)
	f.purged = make(map[incarnation]uint64)
	f.purgedQ = fifo[incarnation]{}
	f.dedup = make(map[reqID]result)
	f.dedupQ = fifo[reqID]{}
	f.ring = eventRing{}
}

// Apply implements raft.FSM. It returns []result, one per command in the
// entry, or nil for entries that are not commands.
func (f *fsm) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(l)
}

// ApplyBatch implements raft.BatchingFSM: one lock acquisition for many
// entries.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range logs {
		out[i] = f.applyLocked(l)
	}
	return out
}

func (f *fsm) applyLocked(l *raft.Log) interface{} {
	defer f.applied.Store(l.Index)
	if l.Type != raft.LogCommand {
		return nil
	}
	cmds, err := decodeEntry(l.Data)
	if err != nil {
		f.logger.Error("skipping undecodable log entry", "index", l.Index, "error", err)
		return []result{{Code: codeOf(err), Index: l.Index}}
	}
	if len(cmds) > maxEntryCommands {
		f.logger.Error("skipping oversized log entry", "index", l.Index, "commands", len(cmds))
		return []result{{Code: codeBadCommand, Index: l.Index}}
	}
	out := make([]result, len(cmds))
	for i := range cmds {
		f.fence = makeFence(l.Index, i)
		out[i] = f.applyCommand(&cmds[i], l.Index)
	}
	return out
}

// applyCommand applies one command at raft index idx, once per request id.
func (f *fsm) applyCommand(c *command, idx uint64) result {
	if c.Req != (reqID{}) {
		if r, ok := f.dedup[c.Req]; ok {
			return r
		}
	}
	r := f.execute(c, idx)
	r.Index = idx
	if c.Req != (reqID{}) {
		f.remember(c.Req, r)
	}
	return r
}

func (f *fsm) remember(id reqID, r result) {
	f.dedup[id] = r
	f.dedupQ.push(id)
	for f.dedupQ.len() > dedupSize {
		old, _ := f.dedupQ.pop()
		delete(f.dedup, old)
	}
}

func (f *fsm) execute(c *command, idx uint64) result {
	if err := c.validate(); err != nil {
		return resultOf(err)
	}
	switch c.Op {
	case opRegister:
		return f.register(c, idx)
	case opReRegister:
		return f.reRegister(c, idx)
	case opUnregister:
		return f.unregister(c, idx)
	case opUpdateMeta:
		return f.updateMeta(c, idx)
	case opUnregisterPID:
		return f.unregisterPID(c, idx)
	case opPurge:
		return f.purge(c, idx)
	case opRevive:
		return f.revive(c)
	}
	return result{Code: codeBadCommand}
}

// Fences. One raft entry carries up to maxEntryCommands commands, so the
// raft index alone does not tell registrations in one entry apart (a
// register, unregister and register of one name can share an entry). A
// fence is the entry's raft index shifted left by fenceShift bits, plus the
// command's position in the entry counted from 1: unique per command and
// increasing in commit order.
const (
	fenceShift       = 16
	maxEntryCommands = 1<<fenceShift - 1
)

func makeFence(index uint64, pos int) uint64 { return index<<fenceShift | uint64(pos+1) }

// FenceIndex returns the raft index at which the registration holding
// fence committed.
func FenceIndex(fence uint64) uint64 { return fence >> fenceShift }

// appliedIndex returns the raft index of the last applied log.
func (f *fsm) appliedIndex() uint64 { return f.applied.Load() }
