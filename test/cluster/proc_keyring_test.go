package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProcKeyringRotation rotates the cluster key of 3 real agents with
// the CLI (install new, use new, remove old; each through another agent)
// while a writer registers names continuously through every agent: no
// write fails, every agent ends holding only the new key, an agent started
// with the old key cannot join, and an agent restarted with its original
// -encrypt flag comes back with the rotated keyring.
func TestProcKeyringRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	newKey, err := exec.Command(c.bin, "keygen").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	if err := os.WriteFile(oldFile, []byte(c.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newFile, newKey, 0o600); err != nil {
		t.Fatal(err)
	}

	pids := make([]string, c.Size())
	for i := range c.Size() {
		if pids[i], err = c.API(i).spawn(ctx, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var writes, failed atomic.Int64
	var lastFail atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range c.Size() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				a, err := c.API(i).register(ctx, fmt.Sprintf("rot-%d-%d", i, j), pids[i])
				writes.Add(1)
				if err != nil || a.Status != 201 {
					failed.Add(1)
					lastFail.Store(fmt.Sprintf("%v %d %v", err, a.Status, a.Body))
				}
			}
		}()
	}
	cli := func(at int, args ...string) string {
		t.Helper()
		args = append([]string{"keyring"}, args...)
		args = append(args, "-http-addr", strings.TrimPrefix(c.nodes[at].api.base, "http://"))
		out, code, err := procRunCLI(ctx, c.bin, args...)
		if err != nil || code != 0 {
			t.Fatalf("clusternode %v: exit %d: %v\n%s", args, code, err, out)
		}
		return out
	}
	// After each step, wait until the writers made a few more writes: each
	// keyring state is exercised.
	writesUnder := func() {
		t.Helper()
		from := writes.Load()
		if err := WaitFor(20*time.Second, func() error {
			if got := writes.Load() - from; got < 5 {
				return fmt.Errorf("%d writes in this keyring state, want 5", got)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	cli(0, "install", "@"+newFile)
	writesUnder()
	cli(1, "use", "@"+newFile)
	writesUnder()
	cli(2, "remove", "@"+oldFile)
	writesUnder()
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || writes.Load() == 0 {
		t.Fatalf("%d of %d writes failed during the rotation; last: %v", failed.Load(), writes.Load(), lastFail.Load())
	}
	t.Logf("%d writes during the rotation, none failed", writes.Load())
	list := cli(0, "list")
	t.Logf("keyring list:\n%s", list)
	if n := strings.Count(list, " (first is primary)"); n != c.Size() || strings.Contains(list, ", ") {
		t.Fatalf("want every node with one key:\n%s", list)
	}

	// An agent with only the old key is refused: it never becomes a member.
	s, err := c.startStranger("old-key", c.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(30*time.Second, func() error { _, err := s.api.status(ctx); return err }); err != nil {
		t.Fatalf("old-key agent's API: %v", err)
	}
	err = procHoldFor(3*time.Second, func() error {
		for i := range c.Size() {
			if err := procNotMember(ctx, c.API(i), "old-key"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// An agent restarted with its original flags keeps the rotated ring.
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restarting %s with the old -encrypt: %v", c.Name(1), err)
	}
}
