package cluster

import (
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/internal/queue"
	"github.com/roster-dev/roster/node"
)

// sweepInterval is how often a node looks for global names held by its
// own processes that have exited (a missed exit unregister).
const sweepInterval = 5 * time.Second

// globalExits unregisters a process's global names when it exits. The
// owning node issues the write; a periodic sweep catches a write that
// failed, and the cluster's purge catches a node that died first.
type globalExits struct {
	n *Node

	mu       sync.Mutex
	attached map[node.PID]bool
	exited   *queue.Queue[node.PID] // bounded by the processes that exit
}

func newGlobalExits(n *Node) *globalExits {
	return &globalExits{n: n, attached: make(map[node.PID]bool), exited: queue.New[node.PID]()}
}

// attach arranges for pid's global names to go when it exits. It fails
// with node.ErrNoProc if pid is not a live local process.
func (e *globalExits) attach(pid node.PID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.attached[pid] {
		return nil
	}
	if err := e.n.Attach(pid, e); err != nil {
		return err
	}
	e.attached[pid] = true
	return nil
}

// OwnerExited implements local.ExitListener: it queues the unregister.
func (e *globalExits) OwnerExited(pid node.PID, _ error) {
	e.mu.Lock()
	delete(e.attached, pid)
	e.mu.Unlock()
	e.enqueue(pid)
}

func (e *globalExits) enqueue(pids ...node.PID) { e.exited.Push(pids...) }

func (e *globalExits) run() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-e.n.ctx.Done():
			return
		case <-e.exited.Wake():
		case <-t.C:
			e.sweep()
		}
		e.drain()
	}
}

// drain unregisters the queued pids' names. Failures are left to the sweep.
func (e *globalExits) drain() {
	q := e.exited.Take()
	seen := make(map[node.PID]bool, len(q))
	for _, pid := range q {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		ctx, cancel := e.n.retryCtx()
		n, err := e.n.table.UnregisterPID(ctx, pid, global.ReasonProcessExit)
		cancel()
		if err != nil {
			e.n.Logger().Debug("exit unregister failed; the sweep will retry", "pid", pid, "error", err)
			continue
		}
		e.n.stats.exitUnregs.Add(uint64(n))
	}
}

// sweep queues every exited local process that still owns names in this
// node's replica.
func (e *globalExits) sweep() {
	var dead []node.PID
	for _, r := range e.n.table.ByNode(e.n.ID()) {
		if r.Owner.Incarnation == e.n.Incarnation() && !e.n.Alive(r.Owner) {
			dead = append(dead, r.Owner)
		}
	}
	if len(dead) > 0 {
		e.enqueue(dead...)
	}
}
