package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// TestKeyringRotation rotates the cluster key (install new, use new,
// remove old, each issued on a different node) while a writer registers
// global names on every node without pause: no write fails, every node
// ends with only the new key, a node holding only the old key is refused,
// and a restarted node keeps the rotated keyring.
func TestKeyringRotation(t *testing.T) {
	oldK, newK := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	withKey := func(k []byte) func(*Config) { return func(cc *Config) { cc.Key = k } }
	tunes := []func(*Config){withKey(oldK), withKey(oldK), withKey(oldK)}
	nodes := startClusterIn(t, dirs, tunes)

	var pids []node.PID
	for _, nd := range nodes {
		pid, _ := spawnReceiver(t, nd)
		pids = append(pids, pid)
	}
	var writes, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := nd.RegisterGlobal(ctx, fmt.Sprintf("w%d/%d", i, j), pids[i], nil)
				cancel()
				writes.Add(1)
				if err != nil {
					failed.Add(1)
					lastErr.Store(err)
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	step := func(nd *Node, op KeyringOp, key []byte) {
		t.Helper()
		res, err := nd.Keyring(ctx, op, key)
		if err != nil {
			t.Fatalf("%s %s: %v (%+v)", nd.ID(), op, err, res)
		}
		if len(res) != len(nodes) {
			t.Fatalf("%s reached %d nodes, want %d: %+v", op, len(res), len(nodes), res)
		}
		writesUnder(t, &writes, 5)
	}
	step(nodes[0], KeyringInstall, newK)
	step(nodes[1], KeyringUse, newK)
	step(nodes[2], KeyringRemove, oldK)
	// A new leader dials its followers afresh: with the new key only.
	for _, nd := range nodes {
		if nd.table.IsLeader() {
			if err := nd.table.TransferLeadership(ctx); err != nil {
				t.Fatalf("leadership transfer after the rotation: %v", err)
			}
		}
	}
	writesUnder(t, &writes, 5) // the writer goes on under the new leader
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || writes.Load() == 0 {
		t.Fatalf("%d of %d writes failed during the rotation; last: %v", failed.Load(), writes.Load(), lastErr.Load())
	}
	t.Logf("%d writes during the rotation, none failed", writes.Load())

	res, err := nodes[0].Keyring(ctx, KeyringList, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if len(r.Keys) != 1 || r.Keys[0] != transport.KeyID(newK) {
			t.Fatalf("%s holds %v, want only %s", r.Node, r.Keys, transport.KeyID(newK))
		}
	}
	if _, err := nodes[0].Keyring(ctx, KeyringRemove, newK); !errors.Is(err, ErrKeyring) {
		t.Fatalf("removing the primary: %v, want ErrKeyring", err)
	}

	// A node with only the old key cannot join.
	stale := newClusterNode(t, "n4", t.TempDir(), 3, withKey(oldK))
	jctx, jcancel := context.WithTimeout(ctx, 3*time.Second)
	defer jcancel()
	if _, err := stale.Join(jctx, []string{nodes[0].GossipAddr()}); err == nil {
		t.Fatal("a node with only the old key joined")
	}
	// Nor can it speak raft to a member: the raft proof fails.
	sc, _ := raftAuth(&stale.cfg, "n4", stale.cfg.Logger)
	as, err := transport.NewAuthStream(sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.Dial(ctx, nodes[0].table.RaftAddr()); !errors.Is(err, transport.ErrBadAuth) {
		t.Fatalf("raft dial with the old key: %v, want ErrBadAuth", err)
	}

	// A node restarted with its original flag (the old key) keeps the
	// rotated keyring from its data dir.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := nodes[2].Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	again := newClusterNode(t, "n3", dirs[2], 3, withKey(oldK))
	if _, err := again.Join(ctx, []string{nodes[0].GossipAddr()}); err != nil {
		t.Fatalf("restarted node: %v", err)
	}
	waitHealthy(t, nodes[0], nodes[1], again)
}

// writesUnder waits (with a deadline) until the writer counted in writes
// has made at least n more writes: the current state has been exercised.
func writesUnder(t *testing.T, writes *atomic.Int64, n int64) {
	t.Helper()
	from := writes.Load()
	pollFor(t, 10*time.Second, func() error {
		if got := writes.Load() - from; got < n {
			return fmt.Errorf("%d writes in this keyring state, want %d", got, n)
		}
		return nil
	})
}
