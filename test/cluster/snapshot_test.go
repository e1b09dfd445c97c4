package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// snapshotIndexes lists the Raft indexes of the snapshots in dir's
// snapshot store (raft's file store: snapshots/<id>/meta.json).
func snapshotIndexes(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "snapshots", e.Name(), "meta.json"))
		if err != nil {
			continue // being written
		}
		var m struct{ Index uint64 }
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, m.Index)
	}
	return out, nil
}

// highestSnapshot is the largest snapshot index in dir (0: none).
func highestSnapshot(dir string) uint64 {
	idx, _ := snapshotIndexes(dir)
	var top uint64
	for _, i := range idx {
		top = max(top, i)
	}
	return top
}

// sameNames checks that node i's own replica (ByNode reads only it) holds
// every name in want with its owner and fence.
func (c *Cluster) sameNames(i int, want map[string]global.Registration) error {
	nd := c.Node(i)
	if nd == nil {
		return fmt.Errorf("%w: %d", ErrNodeDown, i)
	}
	have := map[string]global.Registration{}
	for _, w := range want {
		for _, r := range nd.GlobalTable().ByNode(w.Owner.Node) {
			have[r.Name] = r
		}
		break // one owner
	}
	for name, w := range want {
		got, ok := have[name]
		if !ok {
			return fmt.Errorf("%s lacks %s", nd.ID(), name)
		}
		if got.Owner != w.Owner || got.Fence != w.Fence {
			return fmt.Errorf("%s has %s owned by %v fence %d, want %v fence %d", nd.ID(), name, got.Owner, got.Fence, w.Owner, w.Fence)
		}
	}
	return nil
}

// TestSnapshotInstallAndRestore: with a tiny snapshot threshold and few
// trailing logs, (1) a follower that was down while the leader wrote and
// compacted its log past the follower's last entry can only catch up by
// InstallSnapshot, and it then holds every name; (2) a follower that took
// snapshots of its own and compacted its log restarts from them and holds
// every name.
func TestSnapshotInstallAndRestore(t *testing.T) {
	const trailing = 4
	c := New(t, Options{Nodes: 3, TuneGlobal: func(_ int, gc *global.Config) {
		gc.SnapshotThreshold, gc.SnapshotInterval, gc.TrailingLogs = 8, 50*time.Millisecond, trailing
		gc.MaxBatch = 1 // one entry per write, so the log grows with every name
		// raft-boltdb deletes compacted entries at once; the WAL drops only
		// whole segments, so a lagging follower may still be fed entries.
		gc.LogStore = global.LogStoreBoltDB
	}})
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f1, f2 := (l+1)%3, (l+2)%3
	owner := c.Node(l)
	pid, err := owner.Spawn(func(ctx context.Context, _ *node.Process) error { <-ctx.Done(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	f1Last := c.Node(f1).GlobalTable().Stats().LastIndex
	if err := c.Kill(f1); err != nil {
		t.Fatal(err)
	}
	want := map[string]global.Registration{}
	ctx := context.Background()
	for i := range 60 {
		name := fmt.Sprintf("snap-%02d", i)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		reg, err := owner.RegisterGlobal(wctx, name, pid, nil)
		cancel()
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		want[name] = reg
	}
	// The leader's log must no longer hold the entry after f1's last one:
	// it keeps only `trailing` entries before its latest snapshot.
	if err := WaitFor(10*time.Second, func() error {
		if s := highestSnapshot(c.DataDir(l)); s <= f1Last+trailing+1 {
			return fmt.Errorf("leader's latest snapshot at %d, f1 stopped at %d", s, f1Last)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(f1); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(20*time.Second, func() error { return c.sameNames(f1, want) }); err != nil {
		t.Fatalf("follower after a snapshot install: %v", err)
	}
	// The install wrote the leader's snapshot into f1's store.
	if s := highestSnapshot(c.DataDir(f1)); s <= f1Last {
		t.Fatalf("f1's snapshot store holds nothing past its last entry %d (highest %d): no install", f1Last, s)
	}
	t.Logf("f1 stopped at index %d; leader's snapshot %d; f1 installed %d", f1Last, highestSnapshot(c.DataDir(l)), highestSnapshot(c.DataDir(f1)))

	// (2) f2 snapshots on its own; once its snapshot covers every
	// registration, kill it and restart it from its snapshot and log tail.
	var lastReg uint64
	for _, r := range want {
		lastReg = max(lastReg, r.Fence>>16) // the fence is the Raft index << 16 | slot
	}
	if err := WaitFor(10*time.Second, func() error {
		if s := highestSnapshot(c.DataDir(f2)); s < lastReg {
			// More entries make the threshold trip again.
			_, _ = c.probeWrite(ctx)
			return fmt.Errorf("f2's latest snapshot at %d < last registration %d", s, lastReg)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(f2); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(f2); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(20*time.Second, func() error { return c.sameNames(f2, want) }); err != nil {
		t.Fatalf("follower restarted from its own snapshot: %v", err)
	}
	if err := c.sameNames(l, want); err != nil {
		t.Fatal(err)
	}
}
