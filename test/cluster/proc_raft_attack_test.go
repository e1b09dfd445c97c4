package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// procRaftView is what the attacks must not change on a node: its term,
// voters, whether it runs, and two names.
type procRaftView struct {
	term   float64
	voters string
}

func procViewOf(ctx context.Context, api *procAPI) (procRaftView, error) {
	st, err := api.status(ctx)
	if err != nil {
		return procRaftView{}, err
	}
	rs, _ := st["raft"].(map[string]any)
	term, _ := rs["term"].(float64)
	return procRaftView{term: term, voters: fmt.Sprint(st["voters"])}, nil
}

// procRaftAttacks sends, from a keyless raft client (raft's own
// NetworkTransport over plain TCP), every RPC issue 11 found harmful.
// It returns how many the target answered without an error.
func procRaftAttacks(nt *raft.NetworkTransport, id raft.ServerID, addr raft.ServerAddress, term uint64) int {
	h := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte(nt.LocalAddr())}
	answered := 0
	count := func(err error) {
		if err == nil {
			answered++
		}
	}
	ae := func(req *raft.AppendEntriesRequest) {
		req.RPCHeader = h
		var resp raft.AppendEntriesResponse
		count(nt.AppendEntries(id, addr, req, &resp))
	}
	ae(&raft.AppendEntriesRequest{}) // probe
	ae(&raft.AppendEntriesRequest{Term: term + 100, PrevLogEntry: 0, LeaderCommitIndex: 1,
		Entries: []*raft.Log{{Index: 1, Term: term + 100, Type: raft.LogCommand, Data: []byte{1, 0x91, 0x80}}}})
	ae(&raft.AppendEntriesRequest{Term: term + 100, LeaderCommitIndex: 100000,
		Entries: []*raft.Log{{Index: 100000, Term: term + 100, Type: raft.LogNoop}}}) // past the log end
	ae(&raft.AppendEntriesRequest{Term: term + 100,
		Entries: []*raft.Log{{Index: 1, Term: term + 100, Type: raft.LogConfiguration, Data: []byte("garbage")}}})
	var vr raft.RequestVoteResponse
	count(nt.RequestVote(id, addr, &raft.RequestVoteRequest{RPCHeader: h, Term: term + 100, LastLogIndex: 1 << 40,
		LastLogTerm: term + 100, LeadershipTransfer: true}, &vr))
	var tr raft.TimeoutNowResponse
	count(nt.TimeoutNow(id, addr, &raft.TimeoutNowRequest{RPCHeader: h}, &tr))
	var sr raft.InstallSnapshotResponse
	attackerCfg := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "attacker", Address: raft.ServerAddress(nt.LocalAddr())}}})
	body := []byte("replacement table")
	count(nt.InstallSnapshot(id, addr, &raft.InstallSnapshotRequest{RPCHeader: h, SnapshotVersion: 1, Term: term + 100,
		LastLogIndex: 1 << 30, LastLogTerm: term + 100, Configuration: attackerCfg, Size: int64(len(body))}, &sr, bytes.NewReader(body)))
	return answered
}

// TestProcRaftAttacks: a keyless raft client sends every attack of issue
// 11 to every agent's raft port, twice over (with LeadershipTransfer votes
// meant to stall writes): no RPC is answered, no agent crashes, term and
// voters stay as they were, no forged name appears, writes keep
// succeeding, and every agent restarts cleanly afterwards.
func TestProcRaftAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	pid, err := c.API(0).spawn(ctx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.API(0).register(ctx, "before", pid); err != nil || a.Status != 201 {
		t.Fatalf("register: %v %v", err, a.Body)
	}
	before := make([]procRaftView, c.Size())
	for i := range c.Size() {
		if before[i], err = procViewOf(ctx, c.API(i)); err != nil {
			t.Fatal(err)
		}
	}
	nt, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 2, time.Second, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Close()
	start := time.Now()
	for round := range 2 {
		for i := range c.Size() {
			addr := raft.ServerAddress(net.JoinHostPort("127.0.0.1", strconv.Itoa(c.nodes[i].ports.Raft)))
			if n := procRaftAttacks(nt, raft.ServerID(c.Name(i)), addr, uint64(before[i].term)); n != 0 {
				t.Errorf("round %d: %s answered %d attack RPCs", round, c.Name(i), n)
			}
		}
		// Writes go on between the rounds.
		if a, err := c.API(0).register(ctx, fmt.Sprintf("during-%d", round), pid); err != nil || a.Status != 201 {
			t.Fatalf("register during the attack: %v %d %v", err, a.Status, a.Body)
		}
	}
	t.Logf("all attacks sent in %v", time.Since(start))
	for i := range c.Size() {
		if !c.nodes[i].running() {
			t.Fatalf("%s exited", c.Name(i))
		}
		v, err := procViewOf(ctx, c.API(i))
		if err != nil {
			t.Fatal(err)
		}
		if v != before[i] {
			t.Errorf("%s: term/voters %+v, were %+v", c.Name(i), v, before[i])
		}
		if a, _ := c.API(i).lookup(ctx, "before"); a.Status != 200 {
			t.Errorf("%s lost the name: %d", c.Name(i), a.Status)
		}
	}
	// Every agent starts again from what is on its disk (kill -9 of all).
	for i := range c.Size() {
		if err := c.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.Size() {
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restarting every agent: %v", err)
	}
	pid2, err := c.API(2).spawn(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.API(2).register(ctx, "after", pid2); err != nil || a.Status != 201 {
		t.Fatalf("register after the attacks: %v %v", err, a.Body)
	}
}
