package global

import (
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

// What hashicorp/raft v1.8.0 panics on, reached from a peer's RPC or from
// the log on disk, and the check here that keeps it out:
//
//   - DecodeConfiguration panics on bytes that do not decode: in the
//     AppendEntries handler (processConfigurationLogEntry), in
//     installSnapshot (req.Configuration), and in NewRaft's scan of the log
//     at every later start. checkConfiguration decodes it with recover and
//     checks it the way raft's checkConfiguration does.
//   - processLogs panics ("log not found") when an index between the last
//     applied and the commit index is missing, and NewRaft does at start:
//     AppendEntries entries must follow PrevLogEntry without gaps.
//   - prepareLog panics on an unknown log type: only the types raft
//     replicates at protocol version 3 pass.
//   - installSnapshot stores the snapshot before our FSM restores it; if
//     Restore fails, the stored snapshot stops the node at every start:
//     snapshot bodies are spooled and read by a throwaway FSM first.
//
// Commands our FSM cannot decode would be skipped by Apply, but can never
// come from an honest leader, so they are refused too.

// checkConfiguration decodes a LogConfiguration payload without panicking
// and checks it as raft would before using it.
func checkConfiguration(data []byte) (cfg raft.Configuration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuration does not decode: %v", r)
		}
	}()
	cfg = raft.DecodeConfiguration(data)
	ids := make(map[raft.ServerID]bool, len(cfg.Servers))
	addrs := make(map[raft.ServerAddress]bool, len(cfg.Servers))
	voters := 0
	for _, s := range cfg.Servers {
		switch {
		case s.ID == "" || s.Address == "":
			return cfg, fmt.Errorf("configuration has a server with an empty id or address")
		case ids[s.ID] || addrs[s.Address]:
			return cfg, fmt.Errorf("configuration lists server %q (%s) twice", s.ID, s.Address)
		case s.Suffrage == raft.Voter:
			voters++
		case s.Suffrage != raft.Nonvoter && s.Suffrage != raft.Staging:
			return cfg, fmt.Errorf("configuration gives %q unknown suffrage %d", s.ID, s.Suffrage)
		}
		ids[s.ID], addrs[s.Address] = true, true
	}
	if voters == 0 {
		return cfg, fmt.Errorf("configuration has no voter")
	}
	return cfg, nil
}

// checkEntry checks one log entry's type and payload.
func checkEntry(e *raft.Log, commands bool) error {
	switch e.Type {
	case raft.LogNoop, raft.LogBarrier:
		return nil
	case raft.LogCommand:
		if !commands {
			return nil
		}
		// The shape only, without allocating (the FSM decodes it once,
		// and skips what then fails): our format byte, then exactly one
		// well-formed msgpack array whose lengths fit the entry.
		switch {
		case len(e.Data) < 2 || e.Data[0] != entryFormatBatch:
			return fmt.Errorf("entry %d: command: not an entry of format %d", e.Index, entryFormatBatch)
		case !isMsgpackArray(e.Data[1]):
			return fmt.Errorf("entry %d: command: not a msgpack array", e.Index)
		}
		if err := transport.CheckMsgpack(e.Data[1:], 8); err != nil {
			return fmt.Errorf("entry %d: command: %w", e.Index, err)
		}
		return nil
	case raft.LogConfiguration:
		if _, err := checkConfiguration(e.Data); err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		return nil
	}
	return fmt.Errorf("entry %d has log type %d, which this raft never writes", e.Index, e.Type)
}

// isMsgpackArray reports whether b starts a msgpack array (fixarray,
// array 16 or array 32) or nil (how an empty batch could be encoded).
func isMsgpackArray(b byte) bool { return b&0xf0 == 0x90 || b == 0xdc || b == 0xdd || b == 0xc0 }

// checkAppendEntries validates an AppendEntries request: entries follow
// PrevLogEntry one index at a time, with terms that never go down or past
// the request's term, and payloads raft and our FSM can use.
func checkAppendEntries(a *raft.AppendEntriesRequest) error {
	if a.PrevLogTerm > a.Term {
		return fmt.Errorf("previous log term %d is past the request term %d", a.PrevLogTerm, a.Term)
	}
	last := a.PrevLogTerm
	for i, e := range a.Entries {
		want := a.PrevLogEntry + 1 + uint64(i)
		switch {
		case e == nil:
			return fmt.Errorf("entry %d is nil", i)
		case e.Index != want:
			return fmt.Errorf("entry %d has index %d, want %d (entries follow the previous entry without gaps)", i, e.Index, want)
		case e.Term < last || e.Term > a.Term:
			return fmt.Errorf("entry %d has term %d, outside %d..%d", e.Index, e.Term, last, a.Term)
		}
		last = e.Term
		if err := checkEntry(e, true); err != nil {
			return err
		}
	}
	return nil
}

// checkLogOnDisk reads every entry of the log and refuses what NewRaft or
// processLogs would panic on, so a node damaged before these checks existed
// (or by anything else) stops with an error instead.
func checkLogOnDisk(logs raft.LogStore) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("%w: first index: %w", ErrDamagedLog, err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("%w: last index: %w", ErrDamagedLog, err)
	}
	if last == 0 {
		return nil
	}
	for i := max(first, 1); i <= last; i++ {
		var e raft.Log
		if err := logs.GetLog(i, &e); err != nil {
			return fmt.Errorf("%w: entry %d of %d..%d is missing (%w); move the data dir aside and rejoin the node as new", ErrDamagedLog, i, first, last, err)
		}
		if e.Index != i {
			return fmt.Errorf("%w: entry %d is stored under index %d", ErrDamagedLog, e.Index, i)
		}
		if err := checkEntry(&e, false); err != nil {
			return fmt.Errorf("%w: %w; move the data dir aside and rejoin the node as new", ErrDamagedLog, err)
		}
	}
	return nil
}
