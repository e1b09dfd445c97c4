package global

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// checkDataDir refuses a data dir that holds Raft state with a piece
// missing: raft.db (the term and vote, and the boltdb log) or the WAL gone
// while the log-store record or snapshots remain. Starting there would
// begin with term 0 and no vote, so a voter could vote twice in one term,
// and with a log that no longer reaches its snapshot. With rejoin, the
// leftover state is moved to DataDir/discarded/<time>/ and the node starts
// empty, to be caught up by the leader as a new member.
func checkDataDir(dir string, store LogStore, rejoin bool) error {
	var traces, missing []string
	for _, name := range []string{logStoreFile, snapshotsDir, walDir, boltFile} {
		if nonEmpty(filepath.Join(dir, name)) {
			traces = append(traces, name)
		}
	}
	if len(traces) == 0 {
		return nil // a new data dir
	}
	if !nonEmpty(filepath.Join(dir, boltFile)) {
		missing = append(missing, boltFile)
	}
	if store == LogStoreWAL && storeOf(dir) == LogStoreWAL && !nonEmpty(filepath.Join(dir, walDir, "wal-meta.db")) {
		missing = append(missing, walDir)
	}
	if len(missing) == 0 {
		return nil
	}
	if !rejoin {
		return fmt.Errorf("%w: %s holds %v but %v is missing or empty: the node would forget its term, vote and log; "+
			"restore the files, or start it with -rejoin-as-new to discard the rest and be caught up by the leader",
			ErrStateMissing, dir, traces, missing)
	}
	return discard(dir, traces)
}

// storeOf returns the log store recorded in dir ("" when none is).
func storeOf(dir string) LogStore {
	b, err := os.ReadFile(filepath.Join(dir, logStoreFile))
	if err != nil {
		return ""
	}
	l, _ := ParseLogStore(string(b))
	return l
}

// discard moves names out of dir into dir/discarded/<unix nanos>/.
func discard(dir string, names []string) error {
	to := filepath.Join(dir, discardedRoot, strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.MkdirAll(to, 0o700); err != nil {
		return fmt.Errorf("global: rejoin as new: %w", err)
	}
	for _, n := range names {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(to, n)); err != nil {
			return fmt.Errorf("global: rejoin as new: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("global: rejoin as new: %w", err)
	}
	return nil
}

// nonEmpty reports whether path is a non-empty file or a directory with
// entries.
func nonEmpty(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		return fi.Size() > 0
	}
	ents, err := os.ReadDir(path)
	return err == nil && len(ents) > 0
}
