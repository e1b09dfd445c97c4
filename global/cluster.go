package global

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// Server is one raft member.
type Server struct {
	ID       transport.NodeID
	Address  string // raft address, host:port (RaftAddr of that node)
	Nonvoter bool
}

// Stats is a snapshot of this node's raft state.
type Stats struct {
	State        raft.RaftState
	Term         uint64
	LastIndex    uint64
	AppliedIndex uint64 // the FSM's applied index
	CommitIndex  uint64
	// LastContact is how long ago the leader was last heard from (0 on the
	// leader; -1 if never).
	LastContact time.Duration
	Names       int
}

// HasState reports whether this node has raft state on disk (a log,
// snapshot or term): such a node must not be bootstrapped again.
func (t *Table) HasState() bool {
	ok, err := raft.HasExistingState(t.stores.logs, t.stores.stable, t.stores.snaps)
	return err != nil || ok
}

// Bootstrap forms a new cluster with servers (which must include this
// node). It fails with ErrHasState when this node already has raft state.
func (t *Table) Bootstrap(servers []Server) error {
	if t.HasState() {
		return ErrHasState
	}
	cfg := raft.Configuration{}
	for _, s := range servers {
		sv := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address)}
		if s.Nonvoter {
			sv.Suffrage = raft.Nonvoter
		}
		cfg.Servers = append(cfg.Servers, sv)
	}
	if err := t.raft.BootstrapCluster(cfg).Error(); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("%w: %w", ErrHasState, err)
		}
		return fmt.Errorf("global: bootstrap: %w", err)
	}
	return nil
}

// AddVoter adds (or promotes) id at addr as a voter. Leader only
// (ErrNotLeader otherwise); ctx bounds the wait for the change to commit.
func (t *Table) AddVoter(ctx context.Context, id transport.NodeID, addr string) error {
	return t.membership(ctx, func(timeout time.Duration) raft.Future {
		return t.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	})
}

// AddNonvoter adds id at addr as a non-voter (it replicates the table and
// forwards writes). Leader only.
func (t *Table) AddNonvoter(ctx context.Context, id transport.NodeID, addr string) error {
	return t.membership(ctx, func(timeout time.Duration) raft.Future {
		return t.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	})
}

// RemoveServer removes id from the raft configuration. Leader only. addr is
// accepted for symmetry and unused.
func (t *Table) RemoveServer(ctx context.Context, id transport.NodeID, addr string) error {
	_ = addr
	return t.membership(ctx, func(timeout time.Duration) raft.Future {
		return t.raft.RemoveServer(raft.ServerID(id), 0, timeout)
	})
}

// TransferLeadership asks raft to hand leadership to another voter.
func (t *Table) TransferLeadership(ctx context.Context) error {
	return t.membership(ctx, func(time.Duration) raft.Future { return t.raft.LeadershipTransfer() })
}

// membership runs a leader-only raft change bounded by ctx.
func (t *Table) membership(ctx context.Context, start func(time.Duration) raft.Future) error {
	timeout := t.cfg.HoldWindow
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return ctx.Err()
	}
	errc := make(chan error, 1)
	go func() { errc <- start(timeout).Error() }()
	select {
	case err := <-errc:
		switch {
		case err == nil:
			return nil
		case errors.Is(err, raft.ErrNotLeader):
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return ErrShutdown
		}
		return fmt.Errorf("global: raft: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leader returns the leader's node id and raft address ("" when unknown).
func (t *Table) Leader() (transport.NodeID, string) {
	addr, id := t.raft.LeaderWithID()
	return transport.NodeID(id), string(addr)
}

// IsLeader reports whether this node is the raft leader.
func (t *Table) IsLeader() bool { return t.raft.State() == raft.Leader }

// State returns this node's raft state.
func (t *Table) State() raft.RaftState { return t.raft.State() }

// RaftAddr returns the address other voters reach this node's raft at.
func (t *Table) RaftAddr() string { return string(t.trans.LocalAddr()) }

// Configuration returns the latest raft configuration.
func (t *Table) Configuration() ([]Server, error) {
	f := t.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("global: configuration: %w", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: transport.NodeID(s.ID), Address: string(s.Address), Nonvoter: s.Suffrage != raft.Voter})
	}
	return out, nil
}

// Stats returns this node's raft counters.
func (t *Table) Stats() Stats {
	m := t.raft.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(m[k], 10, 64); return v }
	s := Stats{
		State: t.raft.State(), Term: num("term"), LastIndex: t.raft.LastIndex(),
		AppliedIndex: t.fsm.appliedIndex(), CommitIndex: num("commit_index"), Names: t.Count(),
	}
	switch last := t.raft.LastContact(); {
	case s.State == raft.Leader:
	case last.IsZero():
		s.LastContact = -1
	default:
		s.LastContact = time.Since(last)
	}
	return s
}
