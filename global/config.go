package global

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// Timing picks raft's heartbeat, election, lease and commit timeouts.
type Timing uint8

const (
	// TimingLAN is hashicorp/raft's default profile, for real networks:
	// heartbeat and election timeouts 1 s, leader lease 500 ms, commit
	// timeout 50 ms. A dead leader is replaced in ~1-2 s.
	TimingLAN Timing = iota
	// TimingFast is for nodes on one host (tests, -dev): heartbeat and
	// election timeouts 300 ms, leader lease 150 ms, commit timeout 5 ms.
	// A dead leader is replaced in ~0.3-0.6 s. Too tight for a WAN or a
	// heavily loaded machine: expect spurious elections there.
	TimingFast
)

// Forwarder sends an RPC to another node. node passes its transport
// (transport.Transport has this method). The Table calls it from its own
// goroutines, concurrently; it must honour ctx.
type Forwarder interface {
	Call(ctx context.Context, peer transport.NodeID, method string, body []byte) ([]byte, error)
}

// Config configures a Table. Build it with DefaultConfig and set NodeID and
// DataDir (or InmemStore). New copies it.
type Config struct {
	// NodeID is this node's id, used as the raft ServerID. Required.
	NodeID transport.NodeID

	// DataDir holds raft.db (raft-boltdb: the stable store, and the log
	// with LogStoreBoltDB), wal/ (the log with LogStoreWAL), the snapshots/
	// directory and a log-store file naming the log store. Required unless
	// InmemStore is set. A node restarted with the same DataDir catches up
	// from disk and the leader. New checks it first: a damaged raft.db,
	// WAL or snapshot fails with ErrCorruptDataDir, a missing piece with
	// ErrStateMissing (see RejoinAsNew), the other log store with
	// ErrLogStoreMismatch.
	DataDir string
	// LogStore is the Raft log store of a new DataDir; an existing one
	// must hold the same (it is recorded there). Default LogStoreBoltDB.
	// LogStoreWAL does one fsync per append instead of raft-boltdb's two
	// (see the README's figures), but a WAL node restarted after a kill
	// was seen refusing its own data dir ("sealed segment has no index
	// block"), so it is not the default until that is understood.
	LogStore LogStore
	// RejoinAsNew lets New start on a DataDir whose raft.db or WAL is
	// missing beside other Raft state: the rest is moved to
	// DataDir/discarded/<time>/ and the node starts empty, to be caught
	// up by the leader. The node forgets its term and vote: use it only
	// for a node the cluster can do without until it caught up. Default
	// false: such a DataDir fails with ErrStateMissing.
	RejoinAsNew bool
	// InmemStore keeps log, stable store and snapshots in memory (tests
	// that do not restart nodes). Default false.
	InmemStore bool

	// RaftBind is the host:port raft's TCP transport listens on. Default
	// "127.0.0.1:0" (a free port; RaftAddr reports it). Ignored when
	// StreamLayer is set.
	RaftBind string
	// RaftAdvertise is the host:port other voters dial. Default "": the
	// bound address (which must then not be 0.0.0.0).
	RaftAdvertise string
	// StreamLayer, when set, carries raft traffic instead of TCP on
	// RaftBind (a test harness injects faults this way). Default nil.
	StreamLayer raft.StreamLayer
	// RaftAuth configures the authenticated channel raft runs over on
	// RaftBind (transport.AuthStream): every connection proves the cluster
	// key (Keyring; any installed key is accepted, the primary proves) and
	// runs mutual TLS when TLS is set, before raft reads a byte; handshake
	// deadline, idle timeout and per-peer connection limits bound what a
	// stranger can hold open. NodeID defaults to this Config's NodeID.
	// The zero value checks cluster id "roster" and version only. Ignored
	// when StreamLayer is set.
	RaftAuth transport.StreamConfig

	// Timing picks the raft timeouts. Default TimingLAN.
	Timing Timing
	// RaftOverrides, when set, is called with the raft.Config after Timing
	// and the snapshot fields are applied, to change anything else. Default nil.
	RaftOverrides func(*raft.Config)

	// Forwarder carries writes and consistent reads from followers and
	// non-voters to the leader. Default nil: writes succeed only on the leader.
	Forwarder Forwarder
	// HoldWindow bounds how long a write keeps retrying across leader
	// elections before it fails with ErrNoQuorum (or ErrOutcomeUnknown).
	// The caller's ctx deadline, when sooner, wins. Default 5 s: longer
	// than an election on a LAN, short enough to surface a lost quorum.
	HoldWindow time.Duration
	// ForwardTimeout bounds one forwarded RPC. Default 2 s.
	ForwardTimeout time.Duration

	// MaxBatch is the most commands packed into one raft log entry (group
	// commit on the leader, and per forwarded RPC). Default 512.
	MaxBatch int
	// MaxInflight is how many log entries the leader's group commit keeps
	// in flight while the next batch fills. Default 1: every write queued
	// during a commit rides the next entry, so batches are as large as
	// possible and each write costs the fewest fsyncs. Measured on one
	// 2-core host with three voters on one disk, 2 in flight halved the
	// batch size (36 -> 20 commands for 64 writers) and lowered
	// throughput; with voters on separate disks, 2 lets the leader's fsync
	// of one entry overlap the followers' fsync of the previous one.
	MaxInflight int
	// BatchLinger is how long the leader's group commit may hold a batch
	// open, under load only, for writers of the batch that just committed
	// to come back (see groupCommit). A lone writer is never delayed.
	// Default 500 µs: a fraction of one fsync, while it about doubles batch
	// size when many writers share the leader. 0 disables it.
	BatchLinger time.Duration
	// MaxForwardInflight is how many forwarding RPCs a follower keeps in
	// flight. Default 8: forwarded writes should reach the leader's group
	// commit at once rather than wait for an earlier RPC.
	MaxForwardInflight int

	// SnapshotThreshold is how many new log entries trigger a snapshot.
	// Default 8192 (an entry carries up to MaxBatch commands, so this is
	// up to ~4M writes; restart replays at most that many entries).
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks SnapshotThreshold.
	// Default 30 s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot,
	// so a briefly lagging follower catches up without a snapshot
	// install. Default 10240.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept on disk. Default 2.
	SnapshotRetain int
	// LogCacheSize is how many recent log entries raft keeps in memory in
	// front of raft-boltdb (replication reads them). Default 512.
	LogCacheSize int

	// StaleAfter is how long a follower may go without hearing from the
	// leader before local reads report Stale. Default 0: twice the
	// heartbeat timeout of Timing.
	StaleAfter time.Duration

	// OnLeadershipChange, when set, is called with true when this node
	// becomes leader (after its FSM caught up) and false when it stops.
	// Called from one goroutine, in order; it must not block for long.
	OnLeadershipChange func(isLeader bool)

	// Metrics, when set, receives the table's metrics (see metrics.go for
	// the keys). Default nil: none. raft itself reports to go-metrics'
	// global instance, as it always does.
	Metrics *metrics.Metrics

	// Logger receives the table's and raft's logs. Default: a null logger.
	Logger hclog.Logger
}

// DefaultConfig returns a Config with every default filled in; NodeID and
// DataDir (or InmemStore) are left for the caller.
func DefaultConfig() Config {
	return Config{
		RaftBind:           "127.0.0.1:0",
		LogStore:           LogStoreBoltDB,
		Timing:             TimingLAN,
		HoldWindow:         5 * time.Second,
		ForwardTimeout:     2 * time.Second,
		MaxBatch:           512,
		MaxInflight:        1,
		MaxForwardInflight: 8,
		BatchLinger:        500 * time.Microsecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		TrailingLogs:       10240,
		SnapshotRetain:     2,
		LogCacheSize:       512,
	}
}

// DefaultLocalConfig is DefaultConfig with TimingFast, for nodes sharing
// one host (tests, -dev mode).
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Timing = TimingFast
	return c
}

// Validate reports the first problem with c. Zero numeric fields are
// invalid: start from DefaultConfig.
func (c Config) Validate() error {
	if err := transport.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: NodeID: %w", ErrBadConfig, err)
	}
	switch {
	case c.DataDir == "" && !c.InmemStore:
		return fmt.Errorf("%w: DataDir is required unless InmemStore is set", ErrBadConfig)
	case c.StreamLayer == nil && c.RaftBind == "":
		return fmt.Errorf("%w: RaftBind is required without a StreamLayer", ErrBadConfig)
	case !c.InmemStore && c.LogStore != LogStoreWAL && c.LogStore != LogStoreBoltDB:
		return fmt.Errorf("%w: LogStore %q (want wal or boltdb)", ErrBadConfig, c.LogStore)
	case c.Timing > TimingFast:
		return fmt.Errorf("%w: unknown Timing %d", ErrBadConfig, c.Timing)
	case c.HoldWindow <= 0 || c.ForwardTimeout <= 0:
		return fmt.Errorf("%w: HoldWindow and ForwardTimeout must be positive", ErrBadConfig)
	case c.MaxBatch <= 0 || c.MaxBatch > maxEntryCommands || c.MaxInflight <= 0 || c.MaxForwardInflight <= 0:
		return fmt.Errorf("%w: MaxBatch must be in 1..65535, MaxInflight and MaxForwardInflight positive", ErrBadConfig)
	case c.SnapshotThreshold == 0 || c.SnapshotInterval <= 0 || c.SnapshotRetain <= 0:
		return fmt.Errorf("%w: snapshot settings must be positive", ErrBadConfig)
	case c.LogCacheSize <= 0:
		return fmt.Errorf("%w: LogCacheSize must be positive", ErrBadConfig)
	case c.StaleAfter < 0 || c.BatchLinger < 0:
		return fmt.Errorf("%w: StaleAfter and BatchLinger must not be negative", ErrBadConfig)
	}
	return nil
}

// raftConfig builds raft's config from c.
func (c *Config) raftConfig(logger hclog.Logger) (*raft.Config, error) {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.Logger = logger.Named("raft")
	if c.Timing == TimingFast {
		rc.HeartbeatTimeout = 300 * time.Millisecond
		rc.ElectionTimeout = 300 * time.Millisecond
		rc.LeaderLeaseTimeout = 150 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 64
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.ShutdownOnRemove = false
	if c.RaftOverrides != nil {
		c.RaftOverrides(rc)
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("%w: raft: %w", ErrBadConfig, err)
	}
	return rc, nil
}

func (c *Config) staleAfter(rc *raft.Config) time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	return 2 * rc.HeartbeatTimeout
}
