package global

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
	"github.com/roster-dev/roster/transport"
)

func goodConfiguration() []byte {
	return raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:1"},
		{Suffrage: raft.Nonvoter, ID: "n2", Address: "127.0.0.1:2"},
	}})
}

func goodCommand(t testing.TB) []byte {
	b, err := encodeEntry([]command{{Version: commandVersion, Op: opRegister, Name: "x", Owner: transport.PID{Node: "n1", Incarnation: 1, Serial: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckAppendEntries(t *testing.T) {
	cmd := goodCommand(t)
	entry := func(idx, term uint64, typ raft.LogType, data []byte) *raft.Log {
		return &raft.Log{Index: idx, Term: term, Type: typ, Data: data}
	}
	req := func(prev, prevTerm, term uint64, es ...*raft.Log) *raft.AppendEntriesRequest {
		return &raft.AppendEntriesRequest{Term: term, PrevLogEntry: prev, PrevLogTerm: prevTerm, Entries: es}
	}
	ok := []*raft.AppendEntriesRequest{
		req(0, 0, 1),
		req(0, 0, 1, entry(1, 1, raft.LogConfiguration, goodConfiguration())),
		req(5, 2, 3, entry(6, 2, raft.LogCommand, cmd), entry(7, 3, raft.LogNoop, nil), entry(8, 3, raft.LogBarrier, nil)),
	}
	for i, r := range ok {
		if err := checkAppendEntries(r); err != nil {
			t.Errorf("valid request %d refused: %v", i, err)
		}
	}
	bad := map[string]*raft.AppendEntriesRequest{
		"past the log end":     req(0, 0, 1, entry(1000, 1, raft.LogNoop, nil)),
		"gap":                  req(5, 1, 1, entry(6, 1, raft.LogNoop, nil), entry(8, 1, raft.LogNoop, nil)),
		"garbage config":       req(5, 1, 1, entry(6, 1, raft.LogConfiguration, []byte{0xc1, 0xff, 0x00})),
		"config with no voter": req(5, 1, 1, entry(6, 1, raft.LogConfiguration, raft.EncodeConfiguration(raft.Configuration{}))),
		"unknown type":         req(5, 1, 1, entry(6, 1, raft.LogType(77), nil)),
		"deprecated peer type": req(5, 1, 1, entry(6, 1, raft.LogAddPeerDeprecated, []byte{1})),
		"undecodable command":  req(5, 1, 1, entry(6, 1, raft.LogCommand, []byte{0x01, 0xff})),
		"empty command":        req(5, 1, 1, entry(6, 1, raft.LogCommand, nil)),
		"term past request":    req(5, 1, 2, entry(6, 3, raft.LogNoop, nil)),
		"term going down":      req(5, 2, 2, entry(6, 1, raft.LogNoop, nil)),
		"prev term past term":  req(5, 9, 2),
		"nil entry":            req(5, 1, 1, nil),
	}
	for name, r := range bad {
		if err := checkAppendEntries(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The panic these checks keep away is real.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("raft.DecodeConfiguration did not panic on garbage: the check may be unneeded")
			}
		}()
		raft.DecodeConfiguration([]byte{0xc1, 0xff, 0x00})
	}()
}

// raftAttacker is a raft client: raft's own NetworkTransport, over plain
// TCP (keyless) or over the authenticated stream with the cluster key.
type raftAttacker struct {
	nt *raft.NetworkTransport
}

func newKeylessAttacker(t *testing.T) *raftAttacker {
	nt, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 2, time.Second, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nt.Close() })
	return &raftAttacker{nt: nt}
}

func newKeyedAttacker(t *testing.T, ring *transport.Keyring) *raftAttacker {
	sl, err := newAuthStreamLayer(&Config{NodeID: "attacker", RaftBind: "127.0.0.1:0",
		RaftAuth: transport.StreamConfig{Keyring: ring, HandshakeTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, MaxPool: 2, Timeout: 2 * time.Second, Logger: hclog.NewNullLogger()})
	t.Cleanup(func() { _ = nt.Close() })
	return &raftAttacker{nt: nt}
}

func (a *raftAttacker) header() raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte(a.nt.LocalAddr())}
}

// attacks sends every RPC the issue lists to target and returns their
// errors by name. keyed skips the one well-formed forgery (a higher-term
// AppendEntries with a valid command): a peer holding the cluster key is a
// member, and raft obeys a well-formed RPC from a member.
func (a *raftAttacker) attacks(target *Table, term, last uint64, keyed bool) map[string]error {
	id, addr := raft.ServerID(target.cfg.NodeID), raft.ServerAddress(target.RaftAddr())
	h := a.header()
	out := map[string]error{}
	ae := func(name string, req *raft.AppendEntriesRequest) {
		req.RPCHeader = h
		var resp raft.AppendEntriesResponse
		out[name] = a.nt.AppendEntries(id, addr, req, &resp)
		if out[name] == nil && resp.Success {
			out[name] = nil
		} else if out[name] == nil {
			out[name] = fmt.Errorf("not successful")
		}
	}
	forged, _ := encodeEntry([]command{{Version: commandVersion, Op: opRegister, Name: "forged", Owner: transport.PID{Node: "attacker", Incarnation: 1, Serial: 1}}})
	ae("probe", &raft.AppendEntriesRequest{Term: 0})
	if !keyed {
		ae("forged command at a higher term", &raft.AppendEntriesRequest{Term: term + 100, PrevLogEntry: last, PrevLogTerm: term,
			Entries: []*raft.Log{{Index: last + 1, Term: term + 100, Type: raft.LogCommand, Data: forged}}, LeaderCommitIndex: last + 1})
	}
	ae("entry past the log end", &raft.AppendEntriesRequest{Term: term + 100, Entries: []*raft.Log{{Index: last + 50, Term: term + 100, Type: raft.LogNoop}}, LeaderCommitIndex: last + 50})
	ae("garbage configuration entry", &raft.AppendEntriesRequest{Term: term + 100, PrevLogEntry: last, PrevLogTerm: term,
		Entries: []*raft.Log{{Index: last + 1, Term: term + 100, Type: raft.LogConfiguration, Data: []byte("garbage")}}})
	ae("attacker configuration at a wrong index", &raft.AppendEntriesRequest{Term: term + 100, PrevLogEntry: 0,
		Entries: []*raft.Log{{Index: last + 1, Term: term + 100, Type: raft.LogConfiguration,
			Data: raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "attacker", Address: "127.0.0.1:1"}}})}}})

	var vr raft.RequestVoteResponse
	out["RequestVote with LeadershipTransfer"] = a.nt.RequestVote(id, addr, &raft.RequestVoteRequest{RPCHeader: h, Term: term + 100,
		LastLogIndex: last + 100, LastLogTerm: term + 100, LeadershipTransfer: true}, &vr)
	if out["RequestVote with LeadershipTransfer"] == nil && !vr.Granted {
		out["RequestVote with LeadershipTransfer"] = errors.New("not granted")
	}
	var tr raft.TimeoutNowResponse
	out["TimeoutNow"] = a.nt.TimeoutNow(id, addr, &raft.TimeoutNowRequest{RPCHeader: h}, &tr)

	snap := func(name string, cfg, body []byte) {
		var sr raft.InstallSnapshotResponse
		err := a.nt.InstallSnapshot(id, addr, &raft.InstallSnapshotRequest{RPCHeader: h, SnapshotVersion: 1, Term: term + 100,
			LastLogIndex: last + 1000, LastLogTerm: term + 100, Configuration: cfg, ConfigurationIndex: last + 1000,
			Size: int64(len(body))}, &sr, bytes.NewReader(body))
		if err == nil && !sr.Success {
			err = errors.New("not successful")
		}
		out[name] = err
	}
	snap("InstallSnapshot with a garbage body", goodConfiguration(), []byte("not a snapshot"))
	snap("InstallSnapshot with a garbage configuration", []byte("garbage"), []byte("not a snapshot"))
	return out
}

// TestRaftAttacks: a keyless raft client is refused at the handshake for
// every RPC; one holding the key still cannot crash a node or leave it
// unable to start. Term, configuration and table stay unchanged and
// writes keep succeeding.
func TestRaftAttacks(t *testing.T) {
	ring, err := transport.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClusterWith(t, 3, hclog.Warn, func(cfg *Config) {
		cfg.RaftAuth = transport.StreamConfig{Keyring: ring, HandshakeTimeout: time.Second}
	})
	l := c.waitLeader()
	owner := transport.PID{Node: "n1", Incarnation: 1, Serial: 1}
	if _, err := c.tables[l].Register(testCtx(t, 5*time.Second), "before", owner, nil); err != nil {
		t.Fatal(err)
	}
	f := c.follower()
	st := c.tables[f].Stats()
	cfgBefore, _ := c.tables[f].Configuration()

	for name, a := range map[string]*raftAttacker{"keyless": newKeylessAttacker(t), "keyed": newKeyedAttacker(t, ring)} {
		for _, target := range []int{l, f} {
			for attack, err := range a.attacks(c.tables[target], st.Term, st.LastIndex, name == "keyed") {
				if err == nil {
					t.Errorf("%s %s on n%d: accepted", name, attack, target+1)
				}
				t.Logf("%s %s on n%d: %v", name, attack, target+1, err)
			}
		}
	}
	if n := c.tables[f].trans.Refused(); n == 0 {
		t.Error("the guard counted no refused rpc on the follower")
	}
	for i, tb := range c.tables {
		if got := tb.Stats().Term; got != st.Term {
			t.Errorf("n%d term %d, was %d", i+1, got, st.Term)
		}
		if _, _, ok := tb.Resolve("forged"); ok {
			t.Errorf("n%d holds the forged name", i+1)
		}
		if cfg, _ := tb.Configuration(); fmt.Sprint(cfg) != fmt.Sprint(cfgBefore) {
			t.Errorf("n%d configuration %v, was %v", i+1, cfg, cfgBefore)
		}
	}
	// Every node restarts, and writes keep succeeding.
	for i := range c.tables {
		c.stop(i)
		c.start(i)
	}
	l = c.waitLeader()
	if _, err := c.tables[l].Register(testCtx(t, 5*time.Second), "after", owner, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.tables[l].Resolve("before"); !ok {
		t.Fatal("lost a name across the attacks and restarts")
	}
}

// TestDamagedLogRefusesStart: entries raft would panic on at start (a gap
// past the end, a garbage configuration) make New return an error
// (ErrDamagedLog, or ErrCorruptDataDir from the data dir check), with
// either log store.
func TestDamagedLogRefusesStart(t *testing.T) {
	cases := []struct {
		store LogStore
		bad   func(last uint64) *raft.Log
	}{
		{LogStoreBoltDB, func(last uint64) *raft.Log { return &raft.Log{Index: last + 5, Term: 1, Type: raft.LogNoop} }},
		{LogStoreBoltDB, func(last uint64) *raft.Log {
			return &raft.Log{Index: last + 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("x")}
		}},
		{LogStoreWAL, func(last uint64) *raft.Log {
			return &raft.Log{Index: last + 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("x")}
		}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s-%d", tc.store, i), func(t *testing.T) {
			c := newTestClusterWith(t, 1, hclog.Warn, func(cfg *Config) { cfg.LogStore = tc.store })
			cfg := c.cfgs[0]
			c.stop(0)
			var logs interface {
				raft.LogStore
				Close() error
			}
			var err error
			if tc.store == LogStoreWAL {
				logs, err = openWAL(filepath.Join(cfg.DataDir, walDir), hclog.NewNullLogger())
			} else {
				logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, boltFile)})
			}
			if err != nil {
				t.Fatal(err)
			}
			last, _ := logs.LastIndex()
			if err := logs.StoreLog(tc.bad(last)); err != nil {
				t.Fatal(err)
			}
			_ = logs.Close()
			// A gap is already caught by the data dir check (verifyLog);
			// either way the node refuses to start and does not panic.
			_, err = New(cfg)
			if !errors.Is(err, ErrDamagedLog) && !errors.Is(err, ErrCorruptDataDir) {
				t.Fatalf("New: %v, want ErrDamagedLog or ErrCorruptDataDir", err)
			}
			if tc.bad(1).Type == raft.LogConfiguration && !errors.Is(err, ErrDamagedLog) {
				t.Fatalf("garbage configuration: %v, want ErrDamagedLog", err)
			}
		})
	}
}
