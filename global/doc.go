// Package global is Roster's cluster-wide name table: names bound to
// processes (transport.PID) and replicated with hashicorp/raft, so a name
// has at most one live owner cluster-wide and a minority side cannot
// register.
//
// # Role
//
// A Table is one node's replica and raft member. Writes (Register,
// ReRegister, UpdateMeta, Unregister, ForceUnregister, UnregisterPID,
// PurgeIncarnation, PurgeNodeExcept) succeed only after a raft quorum
// committed them. Every registration returns a Fence: the raft index at
// which it committed, shifted left 16 bits, plus the command's position in
// that raft entry (one entry carries many commands), so each registration
// has its own fence and fences grow in commit order (FenceIndex recovers
// the index). A send by global name carries it; the receiving node compares
// it with Lookup's and drops messages meant for a stale owner.
//
// Writes from followers and non-voters are forwarded to the leader through
// Config.Forwarder (node passes its transport) and served there by
// HandleRPC. A write is retried with the same request id across leader
// changes for up to Config.HoldWindow; the FSM remembers recent request ids
// and their results, so a retried write is applied once. A write whose
// attempts all ended without an answer fails with ErrOutcomeUnknown (it may
// or may not have been applied); one that never found a quorum fails with
// ErrNoQuorum. Neither is ever reported as success.
//
// Reads default to the local replica (Lookup takes ~100 ns and does not
// allocate; ReadInfo says how stale the replica may be). With Consistent, the
// leader waits until its FSM caught up after gaining leadership (a Barrier),
// confirms its leadership with a quorum (VerifyLeader), and reads; a follower
// forwards the read to the leader.
//
// Watch streams registered and unregistered events with their reason and
// raft index; the last 4096 events are kept in every replica (and in
// snapshots), so a watcher can resume from an index without missing events
// or learn with ErrCompacted that it must re-list.
//
// # Throughput
//
// Concurrent writes share raft entries and fsyncs: on the leader a group
// commit packs every command queued while earlier entries are in flight
// into one log entry (Config.MaxBatch commands, Config.MaxInflight entries
// in flight); a follower packs queued writes into one forwarded RPC the
// same way. raft's BatchApplyCh and the BatchingFSM interface batch the rest,
// and a LogCache keeps recent entries in memory for replication.
//
// # Timing, snapshots and durability
//
// Raft log and stable store live in DataDir/raft.db (raft-boltdb, fsync on
// every commit), snapshots in DataDir/snapshots (two kept). A snapshot is
// taken when 8192 entries accumulated (checked every 30 s) and 10240
// entries are kept behind it, so a follower that was down for less than
// that catches up from the log, and a restart replays at most ~18k entries
// (each up to MaxBatch commands) on top of the newest snapshot. Snapshots
// are msgpack streams with a trailer: a truncated or corrupt one fails
// Restore with ErrCorruptSnapshot and leaves the state untouched.
//
// TimingLAN keeps raft's defaults (1 s heartbeat and election timeouts,
// 500 ms leader lease): a dead leader is replaced in 1-2 s, and writes
// issued meanwhile wait inside HoldWindow (5 s). TimingFast (300 ms / 300 ms
// / 150 ms, commit timeout 5 ms) is for nodes sharing one host.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Lock order: raft's
// internal locks are never held while taking fsm.mu except from raft's FSM
// goroutine (Apply, Restore), and fsm.mu is the innermost lock: the FSM
// notifies watchers while holding it with non-blocking sends only. Readers
// take fsm.mu for reading. Goroutines (group commit loops and flushes, the
// leadership monitor, watch cancellers) are tracked and Shutdown waits for
// them.
//
// # Usage
//
//	cfg := global.DefaultConfig()
//	cfg.NodeID = "n1"
//	cfg.DataDir = dir
//	cfg.Forwarder = nodeTransport // routes "global.*" RPCs to the peer's HandleRPC
//	t, err := global.New(cfg)
//	if !t.HasState() {
//		err = t.Bootstrap([]global.Server{{ID: "n1", Address: t.RaftAddr()}, ...})
//	}
//	reg, err := t.Register(ctx, "db-primary", pid, nil)
//	reg, info, err := t.Lookup(ctx, "db-primary")
//	reg, info, err = t.Lookup(ctx, "db-primary", global.Consistent)
//	events, err := t.Watch(ctx, "db-", reg.Index)
package global
