package cluster

import (
	"context"
	"errors"
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

// TestProcKill9DuringWriteBurst: writers on every node register distinct
// names as fast as they can; once a few hundred were acknowledged (201),
// every agent gets SIGKILL at once, mid-burst, and then all restart on
// their data dirs (raft-wal, the default log store). Every acknowledged
// registration must be in the restarted cluster's log: the watch history
// (index=0 replays the replicated event ring) shows each acknowledged name
// registered with the fence its 201 carried. (The names themselves are
// purged after the restart: their owners died with the agents.) Then one
// agent is stopped and its data dir damaged: a truncated raft.db and a
// missing one exit 1 with a clear message (never a panic), and
// -rejoin-as-new lets the node without raft.db rejoin and catch up.
func TestProcKill9DuringWriteBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	acked := procWriteBurst(t, c, 12, 300, 1500)
	t.Logf("%d registrations acknowledged before kill -9 of every agent", len(acked))
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after restarting every agent: %v", err)
	}
	seen := procRegisteredHistory(t, c, "burst-")
	lost := 0
	for name, fence := range acked {
		got, ok := seen[name]
		if !ok || got != fence {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged %s (fence %.0f) after restart: registered=%v fence %.0f", name, fence, ok, got)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged registrations lost", lost, len(acked))
	}
	procDamagedDataDir(t, c, 2)
}

// procWriteBurst runs writers spread over the nodes until at least min
// registrations were acknowledged (or 20 s passed), kills every agent at
// once, restarts them, and returns the acknowledged names and fences.
// Writers stop at max acknowledgements, so the watch history (4096 events)
// holds them all.
func procWriteBurst(t *testing.T, c *procCluster, writers, min, max int) map[string]float64 {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[string]float64{}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		i := w % c.Size()
		pid, err := c.API(i).spawn(ctx, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; n.Load() < int64(max); k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("burst-%02d-%05d", w, k)
				a, err := c.API(i).register(ctx, name, pid)
				if err != nil {
					return // the agent died
				}
				if a.Status == 201 {
					mu.Lock()
					acked[name], _ = a.Body["fence"].(float64)
					mu.Unlock()
					n.Add(1)
				}
			}
		}()
	}
	if err := WaitFor(20*time.Second, func() error {
		if got := n.Load(); got < int64(min) {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var kw sync.WaitGroup
	for i := range c.Size() {
		kw.Add(1)
		go func() { defer kw.Done(); _ = c.Kill(i) }()
	}
	kw.Wait()
	close(stop)
	wg.Wait()
	for i := range c.Size() {
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]float64, len(acked))
	for k, v := range acked {
		out[k] = v
	}
	return out
}

// procRegisteredHistory replays the watch history of prefix on node 0 and
// returns each registered name's fence.
func procRegisteredHistory(t *testing.T, c *procCluster, prefix string) map[string]float64 {
	t.Helper()
	w, err := procStartWatch(context.Background(), c.API(0), "prefix="+prefix+"&index=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.close(5 * time.Second) }()
	seen := map[string]float64{}
	for {
		ev, err := w.next(3 * time.Second)
		if err != nil {
			return seen // quiet: the history is replayed
		}
		if ev.Event == "registered" {
			name, _ := ev.Data["name"].(string)
			seen[name], _ = ev.Data["fence"].(float64)
		}
	}
}

// procDamagedDataDir stops node i, damages its data dir and checks that
// the agent refuses to start with exit status 1 and a clear message.
func procDamagedDataDir(t *testing.T, c *procCluster, i int) {
	t.Helper()
	n := c.nodes[i]
	if err := c.Kill(i); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(n.dataDir, "raft.db")
	saved, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, c.bin, append(append([]string{"agent"}, n.args...), extra...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
		return string(out), 0
	}
	for _, d := range []struct {
		what, want string
		damage     func() error
	}{
		{"truncated raft.db", "is truncated", func() error { return os.WriteFile(db, saved[:len(saved)/3], 0o600) }},
		{"raft.db of garbage", "not a bolt database", func() error { return os.WriteFile(db, []byte(strings.Repeat("garbage!", 2000)), 0o600) }},
		{"missing raft.db", "-rejoin-as-new", func() error { return os.Remove(db) }},
	} {
		if err := d.damage(); err != nil {
			t.Fatal(err)
		}
		out, code := run()
		if code != 1 || strings.Contains(out, "panic") || !strings.Contains(out, d.want) {
			t.Fatalf("agent on a data dir with a %s: exit %d, want 1 and %q without a panic:\n%s", d.what, code, d.want, out)
		}
		t.Logf("%s: exit 1: %s", d.what, lastLine(out))
	}
	n.args = append(n.args, "-rejoin-as-new")
	if err := c.Restart(i); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("after -rejoin-as-new: %v", err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
