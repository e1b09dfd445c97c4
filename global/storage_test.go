package global

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// oneNode starts a single-voter table on dir with store, registers n names
// and returns it. mod may change the config.
func oneNode(t *testing.T, dir string, store LogStore, n int, mod func(*Config)) *Table {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.NodeID, cfg.DataDir, cfg.LogStore = "n1", dir, store
	cfg.Logger = newTestLogger(t, hclog.Warn)
	if mod != nil {
		mod(&cfg)
	}
	tb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Shutdown(context.Background()) })
	if !tb.HasState() {
		if err := tb.Bootstrap([]Server{{ID: "n1", Address: tb.RaftAddr()}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, func() error {
		if !tb.IsLeader() || !tb.readyForReads.Load() {
			return errors.New("not leader yet")
		}
		return nil
	})
	for i := range n {
		if _, err := tb.Register(testCtx(t, 5*time.Second), fmt.Sprintf("name-%d", i), pid("n1", 7, uint64(i+1)), nil); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

// openOnly runs New on dir and returns its error (shutting a started
// table down).
func openOnly(t *testing.T, dir string, store LogStore, mod func(*Config)) error {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.NodeID, cfg.DataDir, cfg.LogStore = "n1", dir, store
	cfg.Logger = newTestLogger(t, hclog.Off)
	if mod != nil {
		mod(&cfg)
	}
	tb, err := New(cfg)
	if err == nil {
		_ = tb.Shutdown(context.Background())
	}
	return err
}

func TestLogStoreRestartKeepsNames(t *testing.T) {
	for _, store := range []LogStore{LogStoreWAL, LogStoreBoltDB} {
		t.Run(string(store), func(t *testing.T) {
			dir := t.TempDir()
			tb := oneNode(t, dir, store, 20, nil)
			if err := tb.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			tb = oneNode(t, dir, store, 0, nil)
			waitFor(t, 5*time.Second, func() error {
				if got := tb.Count(); got != 20 {
					return fmt.Errorf("%d names after restart, want 20", got)
				}
				return nil
			})
		})
	}
}

func TestLogStoreMismatchRefused(t *testing.T) {
	for _, c := range []struct{ have, want LogStore }{{LogStoreWAL, LogStoreBoltDB}, {LogStoreBoltDB, LogStoreWAL}} {
		dir := t.TempDir()
		if err := oneNode(t, dir, c.have, 1, nil).Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := openOnly(t, dir, c.want, nil); !errors.Is(err, ErrLogStoreMismatch) {
			t.Fatalf("%s dir opened as %s: %v, want ErrLogStoreMismatch", c.have, c.want, err)
		}
	}
	// A dir written before the log store was recorded holds boltdb.
	dir := t.TempDir()
	if err := oneNode(t, dir, LogStoreBoltDB, 1, nil).Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, logStoreFile)); err != nil {
		t.Fatal(err)
	}
	if err := openOnly(t, dir, LogStoreWAL, nil); !errors.Is(err, ErrLogStoreMismatch) {
		t.Fatalf("legacy boltdb dir opened as wal: %v", err)
	}
	if err := openOnly(t, dir, LogStoreBoltDB, nil); err != nil {
		t.Fatalf("legacy boltdb dir as boltdb: %v", err)
	}
}

func TestParseLogStore(t *testing.T) {
	for in, want := range map[string]LogStore{"wal": LogStoreWAL, "boltdb": LogStoreBoltDB} {
		if got, err := ParseLogStore(in); err != nil || got != want {
			t.Errorf("ParseLogStore(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLogStore("bolt"); !errors.Is(err, ErrBadConfig) {
		t.Errorf("ParseLogStore(bolt) = %v", err)
	}
}

// stopped runs oneNode with store, takes a snapshot when snap is set,
// shuts it down and returns the data dir.
func stopped(t *testing.T, store LogStore, snap bool) string {
	t.Helper()
	dir := t.TempDir()
	tb := oneNode(t, dir, store, 30, nil)
	if snap {
		if err := tb.raft.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCorruptRaftDBRefused(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"truncated": func(t *testing.T, path string) {
			if err := os.Truncate(path, 4096*2+100); err != nil {
				t.Fatal(err)
			}
		},
		"garbage": func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("this is not a bolt file at all, not even close........"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"bad pages": func(t *testing.T, path string) { // every page past the meta pages: invalid page type
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for off := 2 * 4096; off+16 <= len(b); off += 4096 {
				b[off+8], b[off+9] = 0x20, 0      // page flags: no known type
				b[off+10], b[off+11] = 0xff, 0xff // element count
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, store := range []LogStore{LogStoreBoltDB, LogStoreWAL} {
		for name, fn := range damage {
			t.Run(string(store)+"/"+name, func(t *testing.T) {
				dir := stopped(t, store, false)
				fn(t, filepath.Join(dir, boltFile))
				if err := openOnly(t, dir, store, nil); !errors.Is(err, ErrCorruptDataDir) {
					t.Fatalf("New on a %s raft.db: %v, want ErrCorruptDataDir", name, err)
				} else {
					t.Log(err)
				}
			})
		}
	}
}

func TestMissingRaftDBRefusedUnlessRejoin(t *testing.T) {
	for _, c := range []struct {
		store LogStore
		rm    string
	}{{LogStoreBoltDB, boltFile}, {LogStoreWAL, boltFile}, {LogStoreWAL, walDir}} {
		t.Run(string(c.store)+"/"+c.rm, func(t *testing.T) {
			dir := stopped(t, c.store, true)
			if err := os.RemoveAll(filepath.Join(dir, c.rm)); err != nil {
				t.Fatal(err)
			}
			if err := openOnly(t, dir, c.store, nil); !errors.Is(err, ErrStateMissing) {
				t.Fatalf("New without %s: %v, want ErrStateMissing", c.rm, err)
			}
			err := openOnly(t, dir, c.store, func(cfg *Config) { cfg.RejoinAsNew = true })
			if err != nil {
				t.Fatalf("RejoinAsNew: %v", err)
			}
			if ents, err := os.ReadDir(filepath.Join(dir, discardedRoot)); err != nil || len(ents) != 1 {
				t.Fatalf("discarded state: %v %v", ents, err)
			}
			if err := openOnly(t, dir, c.store, nil); err != nil {
				t.Fatalf("restart after rejoin: %v", err)
			}
		})
	}
}

func TestCorruptSnapshotRefused(t *testing.T) {
	latest := func(t *testing.T, dir string) string {
		snaps, err := raft.NewFileSnapshotStore(dir, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		list, err := snaps.List()
		if err != nil || len(list) == 0 {
			t.Fatalf("snapshots: %v %v", list, err)
		}
		return filepath.Join(dir, snapshotsDir, list[0].ID)
	}
	damage := map[string]func(t *testing.T, snap string){
		"state flipped": func(t *testing.T, snap string) {
			p := filepath.Join(snap, "state.bin")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"state truncated": func(t *testing.T, snap string) {
			if err := os.Truncate(filepath.Join(snap, "state.bin"), 10); err != nil {
				t.Fatal(err)
			}
		},
		"meta garbage": func(t *testing.T, snap string) {
			if err := os.WriteFile(filepath.Join(snap, "meta.json"), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := stopped(t, LogStoreWAL, true)
			fn(t, latest(t, dir))
			if err := openOnly(t, dir, LogStoreWAL, nil); !errors.Is(err, ErrCorruptDataDir) {
				t.Fatalf("New with a %s snapshot: %v, want ErrCorruptDataDir", name, err)
			} else {
				t.Log(err)
			}
		})
	}
}
