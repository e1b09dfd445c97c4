package global

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
)

// checkSnapshots refuses a data dir whose snapshots cannot be trusted.
// raft skips a snapshot whose metadata it cannot read and falls back to an
// older one when the newest fails its CRC, and it panics later when the log
// no longer reaches back to the snapshot it restored. So: every snapshot
// directory must have readable metadata, the newest must pass its CRC (its
// state is read once here), and the log's first entry must follow the
// newest snapshot (or be entry 1 when there is none).
func checkSnapshots(dir string, snaps raft.SnapshotStore, logs raft.LogStore) error {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("global: snapshots: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		var m raft.SnapshotMeta
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return fmt.Errorf("%w: snapshot %s: metadata: %w", ErrCorruptDataDir, e.Name(), err)
		}
	}
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("%w: snapshots: %w", ErrCorruptDataDir, err)
	}
	var snapIndex uint64
	if len(list) > 0 {
		snapIndex = list[0].Index
		_, rc, err := snaps.Open(list[0].ID) // verifies the CRC
		if err != nil {
			return fmt.Errorf("%w: snapshot %s: %w", ErrCorruptDataDir, list[0].ID, err)
		}
		_ = rc.Close()
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("%w: log first index: %w", ErrCorruptDataDir, err)
	}
	if first > 1 && first > snapIndex+1 {
		return fmt.Errorf("%w: the log starts at entry %d but the newest snapshot covers entries up to %d: entries in between are lost",
			ErrCorruptDataDir, first, snapIndex)
	}
	return nil
}
