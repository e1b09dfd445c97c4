package global

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// guardTransport is raft's transport with a filter in front of raft: every
// RPC a peer sends is validated (raft_check.go) before raft sees it, and a
// refused one is answered with an error, counted and logged. Everything
// else is the NetworkTransport's.
type guardTransport struct {
	*raft.NetworkTransport
	log      hclog.Logger
	out      chan raft.RPC
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
	spoolDir string // where InstallSnapshot bodies are checked; "" = os.TempDir

	leader  atomic.Pointer[func() raft.ServerID] // the leader raft knows, for TimeoutNow
	refused atomic.Uint64
}

var (
	_ raft.Transport   = (*guardTransport)(nil)
	_ raft.WithClose   = (*guardTransport)(nil)
	_ raft.WithPreVote = (*guardTransport)(nil)
)

func newGuardTransport(nt *raft.NetworkTransport, spoolDir string, log hclog.Logger) *guardTransport {
	g := &guardTransport{NetworkTransport: nt, log: log, out: make(chan raft.RPC), done: make(chan struct{}), spoolDir: spoolDir}
	g.wg.Add(1)
	go g.run()
	return g
}

// setLeader tells the guard how to ask raft for its leader.
func (g *guardTransport) setLeader(f func() raft.ServerID) { g.leader.Store(&f) }

// Consumer is where raft reads the RPCs that passed.
func (g *guardTransport) Consumer() <-chan raft.RPC { return g.out }

// SetHeartbeatHandler installs raft's fast path for heartbeats, behind the
// same checks.
func (g *guardTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		g.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	g.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		if err := g.check(rpc); err != nil {
			g.refuse(rpc, err)
			return
		}
		cb(rpc)
	})
}

// Close stops the filter and closes the NetworkTransport.
func (g *guardTransport) Close() error {
	err := g.NetworkTransport.Close()
	g.once.Do(func() { close(g.done) })
	g.wg.Wait()
	return err
}

// Refused counts the RPCs refused so far.
func (g *guardTransport) Refused() uint64 { return g.refused.Load() }

func (g *guardTransport) run() {
	defer g.wg.Done()
	in := g.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if req, ok := rpc.Command.(*raft.InstallSnapshotRequest); ok {
				// Reading the body can take long: off the filter loop.
				g.wg.Add(1)
				go func() {
					defer g.wg.Done()
					g.installSnapshot(rpc, req)
				}()
				continue
			}
			if err := g.check(rpc); err != nil {
				g.refuse(rpc, err)
				continue
			}
			g.forward(rpc)
		case <-g.done:
			return
		}
	}
}

func (g *guardTransport) forward(rpc raft.RPC) bool {
	select {
	case g.out <- rpc:
		return true
	case <-g.done:
		rpc.Respond(nil, raft.ErrTransportShutdown)
		return false
	}
}

func (g *guardTransport) refuse(rpc raft.RPC, err error) {
	n := g.refused.Add(1)
	g.log.Error("refused a raft rpc from a peer", "type", fmt.Sprintf("%T", rpc.Command), "refused_total", n, "error", err)
	rpc.Respond(emptyResponse(rpc.Command), fmt.Errorf("%w: %w", ErrRefusedRPC, err))
}

// emptyResponse is the typed zero response raft's client decodes.
func emptyResponse(cmd any) any {
	switch cmd.(type) {
	case *raft.AppendEntriesRequest:
		return &raft.AppendEntriesResponse{}
	case *raft.RequestVoteRequest:
		return &raft.RequestVoteResponse{}
	case *raft.RequestPreVoteRequest:
		return &raft.RequestPreVoteResponse{}
	case *raft.InstallSnapshotRequest:
		return &raft.InstallSnapshotResponse{}
	case *raft.TimeoutNowRequest:
		return &raft.TimeoutNowResponse{}
	}
	return nil
}

// check validates every RPC but InstallSnapshot (see installSnapshot).
func (g *guardTransport) check(rpc raft.RPC) error {
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		return checkAppendEntries(req)
	case *raft.RequestVoteRequest, *raft.RequestPreVoteRequest:
		return nil
	case *raft.TimeoutNowRequest:
		// Only the leader starts a leadership transfer, and the target has
		// heard from it (it was caught up first).
		f := g.leader.Load()
		if f == nil || (*f)() == "" || (*f)() != raft.ServerID(req.ID) {
			return fmt.Errorf("TimeoutNow from %q, who is not our leader", req.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown rpc %T", rpc.Command)
}

// installSnapshot spools the snapshot body to a temporary file, checks its
// configuration and that our FSM can restore it, and only then gives raft
// the request with the spooled body (removed once raft has responded).
func (g *guardTransport) installSnapshot(rpc raft.RPC, req *raft.InstallSnapshotRequest) {
	f, err := os.CreateTemp(g.spoolDir, "install-snapshot-*")
	if err != nil {
		_, _ = io.Copy(io.Discard, rpc.Reader)
		g.refuse(rpc, fmt.Errorf("spool snapshot: %w", err))
		return
	}
	cleanup := func() { _ = f.Close(); _ = os.Remove(f.Name()) }
	if err := checkSnapshot(req, rpc.Reader, f); err != nil {
		cleanup()
		g.refuse(rpc, err)
		return
	}
	orig := rpc.RespChan
	resp := make(chan raft.RPCResponse, 1)
	rpc.Reader, rpc.RespChan = f, resp
	if !g.forward(rpc) {
		cleanup()
		return
	}
	select {
	case r := <-resp:
		orig <- r
	case <-g.done:
	}
	cleanup()
}

// checkSnapshot copies body (req.Size bytes) to f, rewinds it and checks it.
func checkSnapshot(req *raft.InstallSnapshotRequest, body io.Reader, f *os.File) error {
	n, err := io.Copy(f, body)
	if err != nil {
		return fmt.Errorf("snapshot body: %w", err)
	}
	if n != req.Size {
		return fmt.Errorf("snapshot body is %d bytes, request says %d", n, req.Size)
	}
	if req.SnapshotVersion < 1 || req.SnapshotVersion > raft.SnapshotVersionMax {
		return fmt.Errorf("snapshot version %d (we take 1..%d)", req.SnapshotVersion, raft.SnapshotVersionMax)
	}
	if _, err := checkConfiguration(req.Configuration); err != nil {
		return fmt.Errorf("snapshot %w", err)
	}
	if req.ConfigurationIndex > req.LastLogIndex || req.LastLogTerm > req.Term {
		return fmt.Errorf("snapshot at index %d term %d claims configuration index %d, request term %d",
			req.LastLogIndex, req.LastLogTerm, req.ConfigurationIndex, req.Term)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := newFSM(nil).readSnapshot(f); err != nil {
		return fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return nil
}
