package global

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// stores is raft's storage: a LogCache over the log store (raft-wal or
// raft-boltdb, or in memory), the stable store (raft-boltdb, or in memory),
// and a file (or in-memory) snapshot store.
type stores struct {
	logs    raft.LogStore
	stable  raft.StableStore
	snaps   raft.SnapshotStore
	closers []io.Closer // bolt, then the WAL; nil in memory
}

func openStores(c *Config, logger hclog.Logger) (*stores, error) {
	if c.InmemStore {
		mem := raft.NewInmemStore()
		cache, err := raft.NewLogCache(c.LogCacheSize, mem)
		if err != nil {
			return nil, fmt.Errorf("global: log cache: %w", err)
		}
		return &stores{logs: cache, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("global: data dir: %w", err)
	}
	if err := checkDataDir(c.DataDir, c.LogStore, c.RejoinAsNew); err != nil {
		return nil, err
	}
	if err := claimLogStore(c.DataDir, c.LogStore); err != nil {
		return nil, err
	}
	s := &stores{}
	if err := s.open(c, logger); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

func (s *stores) open(c *Config, logger hclog.Logger) error {
	bolt, err := openBolt(filepath.Join(c.DataDir, boltFile))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, bolt)
	s.stable = bolt
	var logs raft.LogStore = bolt
	if c.LogStore == LogStoreWAL {
		w, err := openWAL(filepath.Join(c.DataDir, walDir), logger)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, w)
		logs = w
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(c.DataDir, c.SnapshotRetain, logger.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("global: snapshot store: %w", err)
	}
	if err := verifyLog(c.DataDir, logs, bolt); err != nil {
		return err
	}
	if err := checkSnapshots(filepath.Join(c.DataDir, snapshotsDir), snaps, logs); err != nil {
		return err
	}
	s.snaps = snaps
	if s.logs, err = raft.NewLogCache(c.LogCacheSize, logs); err != nil {
		return fmt.Errorf("global: log cache: %w", err)
	}
	return nil
}

// openBolt checks and opens raft.db.
func openBolt(path string) (*raftboltdb.BoltStore, error) {
	if err := checkBoltFile(path); err != nil {
		return nil, err
	}
	if err := scanBolt(path); err != nil {
		return nil, err
	}
	var db *raftboltdb.BoltStore
	err := guardFaults(path, func() (err error) {
		db, err = raftboltdb.New(raftboltdb.Options{Path: path})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorruptDataDir) {
			return nil, err
		}
		return nil, fmt.Errorf("global: open %s: %w", path, err)
	}
	return db, nil
}

// openWAL checks and opens the raft-wal directory.
func openWAL(dir string, logger hclog.Logger) (*walStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("global: wal: %w", err)
	}
	meta := filepath.Join(dir, "wal-meta.db")
	if err := checkBoltFile(meta); err != nil {
		return nil, err
	}
	if err := scanBolt(meta); err != nil {
		return nil, err
	}
	if err := checkWALTail(dir); err != nil {
		return nil, err
	}
	// raft-wal's Close leaves the meta db it opened itself open (and its
	// file lock held), so the WAL gets one we close.
	md := &metadb.BoltMetaDB{}
	var w *wal.WAL
	err := guardFaults(dir, func() (err error) {
		w, err = wal.Open(dir, wal.WithLogger(logger.Named("wal")), wal.WithSegmentSize(walSegmentSize), wal.WithMetaStore(md))
		return err
	})
	if err != nil {
		err = errors.Join(err, md.Close())
		if errors.Is(err, ErrCorruptDataDir) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: wal %s: %w", ErrCorruptDataDir, dir, err)
	}
	return &walStore{WAL: w, meta: md}, nil
}

// walStore is the WAL and its meta db, closed together.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func (w *walStore) Close() error { return errors.Join(w.WAL.Close(), w.meta.Close()) }

// verifyLog reads every log entry and the stable store's term and vote
// once, under guardFaults: raft reads them from its own goroutines, where a
// damaged record would panic the process (raft-boltdb indexes a short key,
// raft panics on a log entry it cannot read).
func verifyLog(dir string, logs raft.LogStore, stable raft.StableStore) error {
	return guardFaults(dir, func() error {
		for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
			if _, err := stable.GetUint64([]byte(k)); err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
				return fmt.Errorf("%w: %s: stable store %s: %w", ErrCorruptDataDir, dir, k, err)
			}
		}
		first, err := logs.FirstIndex()
		if err != nil {
			return fmt.Errorf("%w: %s: log first index: %w", ErrCorruptDataDir, dir, err)
		}
		last, err := logs.LastIndex()
		if err != nil {
			return fmt.Errorf("%w: %s: log last index: %w", ErrCorruptDataDir, dir, err)
		}
		if last == 0 {
			return nil
		}
		if first == 0 || first > last {
			return fmt.Errorf("%w: %s: log spans %d..%d", ErrCorruptDataDir, dir, first, last)
		}
		var l raft.Log
		for i := first; i <= last; i++ {
			if err := logs.GetLog(i, &l); err != nil || l.Index != i {
				return fmt.Errorf("%w: %s: log entry %d of %d..%d: unreadable (%v, index %d)", ErrCorruptDataDir, dir, i, first, last, err, l.Index)
			}
		}
		return nil
	})
}

func (s *stores) close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i].Close())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// newRaftTransport builds raft's network transport, over c.StreamLayer
// when set, else over the authenticated stream layer on RaftBind, behind the
// RPC guard (raft_guard.go).
func newRaftTransport(c *Config, logger hclog.Logger) (*guardTransport, error) {
	const maxPool, timeout = 3, 10 * time.Second
	var stream raft.StreamLayer = c.StreamLayer
	if stream == nil {
		l, err := newAuthStreamLayer(c)
		if err != nil {
			return nil, err
		}
		stream = l
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: maxPool, Timeout: timeout, Logger: logger,
	})
	spool := ""
	if !c.InmemStore {
		spool = c.DataDir
	}
	return newGuardTransport(nt, spool, logger.Named("guard")), nil
}
