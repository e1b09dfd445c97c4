package cluster

import (
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
)

// sweepInterval is how often a node looks for global names held by its
// own processes that have exited (a missed exit unregister).
const sweepInterval = 5 * time.Second

// globalExits unregisters a process's global names when it exits. The
// owning node issues the write; a periodic sweep catches a write that
// failed, and the cluster's purge catches a node that died first.
type globalExits struct {
	c *cluster

	mu       sync.Mutex
	attached map[PID]bool
	queue    []PID
	wake     chan struct{}
}

func newGlobalExits(c *cluster) *globalExits {
	return &globalExits{c: c, attached: make(map[PID]bool), wake: make(chan struct{}, 1)}
}

// attach arranges for pid's global names to go when it exits. It fails
// with ErrNoProc if pid is not a live local process.
func (e *globalExits) attach(pid PID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.attached[pid] {
		return nil
	}
	if err := e.c.n.Attach(pid, e); err != nil {
		return err
	}
	e.attached[pid] = true
	return nil
}

// OwnerExited implements local.ExitListener: it queues the unregister.
func (e *globalExits) OwnerExited(pid PID, _ error) {
	e.mu.Lock()
	delete(e.attached, pid)
	e.mu.Unlock()
	e.enqueue(pid)
}

func (e *globalExits) enqueue(pids ...PID) {
	e.mu.Lock()
	e.queue = append(e.queue, pids...)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *globalExits) run() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-e.c.ctx.Done():
			return
		case <-e.c.n.ctx.Done():
			return
		case <-e.wake:
		case <-t.C:
			e.sweep()
		}
		e.drain()
	}
}

// drain unregisters the queued pids' names. Failures are left to the sweep.
func (e *globalExits) drain() {
	e.mu.Lock()
	q := e.queue
	e.queue = nil
	e.mu.Unlock()
	seen := make(map[PID]bool, len(q))
	for _, pid := range q {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		ctx, cancel := e.c.retryCtx()
		n, err := e.c.table.UnregisterPID(ctx, pid, global.ReasonProcessExit)
		cancel()
		if err != nil {
			e.c.n.logger.Debug("exit unregister failed; the sweep will retry", "pid", pid, "error", err)
			continue
		}
		e.c.stats.exitUnregs.Add(uint64(n))
	}
}

// sweep queues every exited local process that still owns names in this
// node's replica.
func (e *globalExits) sweep() {
	var dead []PID
	for _, r := range e.c.table.ByNode(e.c.n.id) {
		if r.Owner.Incarnation == e.c.n.inc && !e.c.n.Alive(r.Owner) {
			dead = append(dead, r.Owner)
		}
	}
	if len(dead) > 0 {
		e.enqueue(dead...)
	}
}
