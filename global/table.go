package global

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// Registration is one global name's current binding.
type Registration struct {
	Name  string        `msgpack:"n"`
	Owner transport.PID `msgpack:"p"`
	// Meta is the small value stored with the name. Readers share it with
	// the table: do not modify it.
	Meta []byte `msgpack:"m,omitempty"`
	// Fence identifies this registration of Name by Owner: it is unique
	// per registration and increases in commit order. It is the raft index
	// at which the registration committed, shifted left 16 bits, plus the
	// command's position in that raft entry (group commit packs many
	// commands into one entry); FenceIndex recovers the index. A send by
	// name carries it; a receiver drops the message when the name's
	// current Fence differs (is newer).
	Fence uint64 `msgpack:"f"`
	// Index is the raft index of the last change to this name (a metadata
	// update moves Index, not Fence).
	Index uint64 `msgpack:"i"`
}

// Table is one node's replica of the cluster-wide name table and its raft
// member. All methods are safe for concurrent use.
type Table struct {
	cfg        Config
	logger     hclog.Logger
	fsm        *fsm
	raft       *raft.Raft
	trans      *guardTransport
	stores     *stores
	staleAfter time.Duration

	reqHi uint64
	reqLo atomic.Uint64

	leaderGC *groupCommit // group commit into raft, used while leader
	fwdGC    *groupCommit // group commit into forwarded RPCs, while follower

	readyForReads atomic.Bool // leader and FSM caught up (barrier done)
	leaderCh      chan bool
	leases        leases // lease grants while leader (lease.go)

	baseCtx      context.Context // cancelled by Shutdown
	cancelBase   context.CancelFunc
	shutdownCh   chan struct{}
	shutdownOnce sync.Once
	shutdownErr  error
	shutdownDone chan struct{} // closed when shutdown has finished
	wg           sync.WaitGroup
}

// New opens storage and starts raft. It does not bootstrap: call Bootstrap
// on a fresh cluster, or let a leader add this node.
func New(cfg Config) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named("global")
	rc, err := cfg.raftConfig(logger)
	if err != nil {
		return nil, err
	}
	t := &Table{
		cfg: cfg, logger: logger, fsm: newFSM(logger), staleAfter: cfg.staleAfter(rc),
		leaderCh: make(chan bool, 1), shutdownCh: make(chan struct{}), shutdownDone: make(chan struct{}),
	}
	t.baseCtx, t.cancelBase = context.WithCancel(context.Background())
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	t.reqHi = binary.LittleEndian.Uint64(seed[:])
	if t.stores, err = openStores(&t.cfg, logger); err != nil {
		return nil, err
	}
	if err := checkLogOnDisk(t.stores.logs); err != nil {
		return nil, errors.Join(err, t.stores.close())
	}
	if t.trans, err = newRaftTransport(&t.cfg, logger.Named("raft-net")); err != nil {
		return nil, errors.Join(err, t.stores.close())
	}
	t.raft, err = raft.NewRaft(rc, t.fsm, t.stores.logs, t.stores.stable, t.stores.snaps, t.trans)
	if err != nil {
		err = fmt.Errorf("global: start raft: %w", err)
		if rerr := t.fsm.takeRestoreErr(); rerr != nil {
			err = fmt.Errorf("%w: %w (%w)", ErrCorruptDataDir, err, rerr)
		}
		return nil, errors.Join(err, t.trans.Close(), t.stores.close())
	}
	if rerr := t.fsm.takeRestoreErr(); rerr != nil {
		err := fmt.Errorf("%w: %s: newest snapshot: %w", ErrCorruptDataDir, cfg.DataDir, rerr)
		return nil, errors.Join(err, t.raft.Shutdown().Error(), t.trans.Close(), t.stores.close())
	}
	t.trans.setLeader(func() raft.ServerID { _, id := t.raft.LeaderWithID(); return id })
	t.leaderGC = newGroupCommit(cfg.MaxBatch, cfg.MaxInflight, cfg.BatchLinger, t.commitBatch, t.shutdownCh, t.goFn)
	t.fwdGC = newGroupCommit(cfg.MaxBatch, cfg.MaxForwardInflight, 0, t.forwardBatch, t.shutdownCh, t.goFn)
	t.goFn(t.leaderGC.run)
	t.goFn(t.fwdGC.run)
	t.goFn(t.monitorLeadership)
	return t, nil
}

// goFn runs fn on a goroutine that Shutdown waits for.
func (t *Table) goFn(fn func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
}

// Shutdown stops raft, closes watchers (with ErrShutdown), the transport
// and storage, and waits for that or for ctx's end (the shutdown then goes
// on in the background). It is idempotent; later calls wait for the first
// and return its error.
func (t *Table) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		go func() {
			defer close(t.shutdownDone)
			t.shutdownErr = t.shutdown()
		}()
	})
	select {
	case <-t.shutdownDone:
		return t.shutdownErr
	case <-ctx.Done():
		return fmt.Errorf("global: shutdown: %w", ctx.Err())
	}
}

// shutdown does the work of Shutdown.
func (t *Table) shutdown() error {
	{
		close(t.shutdownCh)
		t.cancelBase()
		errs := []error{t.raft.Shutdown().Error()}
		errs = append(errs, t.trans.Close())
		t.wg.Wait()
		t.fsm.mu.Lock()
		t.fsm.closed = true
		t.fsm.closeAllWatchers(ErrShutdown)
		t.fsm.mu.Unlock()
		t.fsm.wg.Wait()
		errs = append(errs, t.stores.close())
		return errors.Join(errs...)
	}
}

func (t *Table) isShutdown() bool {
	select {
	case <-t.shutdownCh:
		return true
	default:
		return false
	}
}

// nextReqID returns a request id unique across nodes and boots.
func (t *Table) nextReqID() reqID {
	return reqID{Hi: t.reqHi, Lo: t.reqLo.Add(1)}
}

// monitorLeadership follows raft's leadership signal. On gaining it, it
// issues a Barrier so the FSM holds every entry of earlier terms before
// consistent reads are served (Consul's isReadyForConsistentReads).
func (t *Table) monitorLeadership() {
	for {
		select {
		case <-t.shutdownCh:
			return
		case leader := <-t.raft.LeaderCh():
			t.readyForReads.Store(false)
			t.leases.setLeader(leader)
			if leader {
				if err := t.waitFuture(t.raft.Barrier(0)); err != nil {
					t.logger.Warn("barrier after gaining leadership failed", "error", err)
					continue
				}
				t.readyForReads.Store(true)
			}
			t.notifyLeadership(leader)
		}
	}
}

func (t *Table) notifyLeadership(leader bool) {
	if t.cfg.OnLeadershipChange != nil {
		t.cfg.OnLeadershipChange(leader)
	}
	for {
		select {
		case t.leaderCh <- leader:
			return
		default:
		}
		select { // drop the stale value, keep the latest
		case <-t.leaderCh:
		default:
		}
	}
}

// LeaderCh delivers true when this node becomes leader (FSM caught up) and
// false when it stops. Only the latest value is kept: a slow reader sees
// the current state, not every transition. There is one channel per Table.
func (t *Table) LeaderCh() <-chan bool { return t.leaderCh }
