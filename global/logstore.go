package global

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LogStore names the Raft log store kept in a data dir.
type LogStore string

const (
	// LogStoreWAL keeps the Raft log in hashicorp/raft-wal segment files
	// under DataDir/wal: one fsync per append into a preallocated segment.
	// The stable store (term, vote) stays in DataDir/raft.db.
	LogStoreWAL LogStore = "wal"
	// LogStoreBoltDB keeps the Raft log in DataDir/raft.db (raft-boltdb)
	// beside the stable store: two fsyncs and page allocation per append.
	LogStoreBoltDB LogStore = "boltdb"
)

// ParseLogStore parses "wal" or "boltdb".
func ParseLogStore(s string) (LogStore, error) {
	switch l := LogStore(strings.TrimSpace(s)); l {
	case LogStoreWAL, LogStoreBoltDB:
		return l, nil
	}
	return "", fmt.Errorf("%w: unknown log store %q (want wal or boltdb)", ErrBadConfig, s)
}

// Files of a data dir.
const (
	boltFile      = "raft.db"   // raft-boltdb: stable store, and the log with LogStoreBoltDB
	walDir        = "wal"       // raft-wal segments and wal-meta.db, with LogStoreWAL
	snapshotsDir  = "snapshots" // raft's file snapshot store
	logStoreFile  = "log-store" // which LogStore the dir holds: "wal" or "boltdb"
	discardedRoot = "discarded" // state moved aside by RejoinAsNew
)

// claimLogStore reads which log store dir holds, recording want on first
// use. A dir from before the record existed holds boltdb if raft.db does. A
// dir that holds the other store is refused with ErrLogStoreMismatch: the
// log is not migrated, and opening the other store would start with an empty
// log beside a stable store that remembers a term and a vote.
func claimLogStore(dir string, want LogStore) error {
	path := filepath.Join(dir, logStoreFile)
	b, err := os.ReadFile(path)
	var have LogStore
	switch {
	case err == nil:
		if have, err = ParseLogStore(string(b)); err != nil {
			return fmt.Errorf("%w: %s: %q is not a log store", ErrCorruptDataDir, path, strings.TrimSpace(string(b)))
		}
	case errors.Is(err, fs.ErrNotExist):
		if exists(filepath.Join(dir, boltFile)) && !exists(filepath.Join(dir, walDir)) {
			have = LogStoreBoltDB // written before the log store was recorded
		} else if exists(filepath.Join(dir, walDir)) {
			have = LogStoreWAL
		}
		if have == "" || have == want {
			return writeFileSync(path, []byte(string(want)+"\n"))
		}
	default:
		return fmt.Errorf("global: data dir: %w", err)
	}
	if have != want {
		return fmt.Errorf("%w: %s holds a %s log, this node is configured for %s (start it with -raft-log-store %s, or move the data dir aside)",
			ErrLogStoreMismatch, dir, have, want, have)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeFileSync writes a small file and fsyncs it and its directory.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("global: data dir: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("global: data dir: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
