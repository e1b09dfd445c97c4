package global

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// testLogger sends hclog output to t.Log until the test's cleanup ran, so a
// passing run is quiet and late raft logs cannot panic the test binary.
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newTestLogger(tb testing.TB, level hclog.Level) hclog.Logger {
	w := &testLogger{t: tb}
	tb.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: level})
}

// fakeNet routes Forwarder calls to the target Table's HandleRPC, as node
// does over its transport. Bodies are bytes, so every call goes through the
// codec. Nodes marked down neither send nor receive.
type fakeNet struct {
	mu     sync.Mutex
	tables map[transport.NodeID]*Table
	down   map[transport.NodeID]bool
}

type fakeForwarder struct {
	net  *fakeNet
	self transport.NodeID
}

var errPeerDown = errors.New("fake net: peer unreachable")

func (f *fakeForwarder) Call(ctx context.Context, peer transport.NodeID, method string, body []byte) ([]byte, error) {
	f.net.mu.Lock()
	t := f.net.tables[peer]
	down := f.net.down[peer] || f.net.down[f.self]
	f.net.mu.Unlock()
	if t == nil || down {
		return nil, fmt.Errorf("%w: %s", errPeerDown, peer)
	}
	return t.HandleRPC(ctx, f.self, method, body)
}

// testCluster is n Tables in one process, raft over TCP on 127.0.0.1:0,
// raft-boltdb in temp dirs.
type testCluster struct {
	tb     testing.TB
	logger hclog.Logger
	mod    func(*Config)
	net    *fakeNet
	cfgs   []Config
	tables []*Table
}

func newTestCluster(tb testing.TB, n int, level hclog.Level) *testCluster {
	tb.Helper()
	return newTestClusterWith(tb, n, level, nil)
}

// newTestClusterWith is newTestCluster with mod applied to every config.
func newTestClusterWith(tb testing.TB, n int, level hclog.Level, mod func(*Config)) *testCluster {
	tb.Helper()
	c := &testCluster{tb: tb, net: &fakeNet{tables: map[transport.NodeID]*Table{}, down: map[transport.NodeID]bool{}}}
	c.logger, c.mod = newTestLogger(tb, level), mod
	for range n {
		c.add()
	}
	tb.Cleanup(c.shutdownAll)
	var servers []Server
	for _, t := range c.tables {
		servers = append(servers, Server{ID: t.cfg.NodeID, Address: t.RaftAddr()})
	}
	for _, t := range c.tables {
		// A table the first ones' leader already reached has state: fine.
		if err := t.Bootstrap(servers); err != nil && !errors.Is(err, ErrHasState) {
			tb.Fatal(err)
		}
	}
	c.waitLeader()
	return c
}

// add starts one more table, not bootstrapped, and returns its position.
func (c *testCluster) add() int {
	i := len(c.tables)
	cfg := DefaultLocalConfig()
	cfg.NodeID = transport.NodeID(fmt.Sprintf("n%d", i+1))
	cfg.DataDir = c.tb.TempDir()
	cfg.Logger = c.logger.Named(string(cfg.NodeID))
	cfg.Forwarder = &fakeForwarder{net: c.net, self: cfg.NodeID}
	if c.mod != nil {
		c.mod(&cfg)
	}
	c.cfgs = append(c.cfgs, cfg)
	c.tables = append(c.tables, nil)
	c.start(i)
	return i
}

// start (re)starts table i from its config; a restart reuses its data dir
// and raft address.
func (c *testCluster) start(i int) {
	c.tb.Helper()
	t, err := New(c.cfgs[i])
	if err != nil {
		c.tb.Fatal(err)
	}
	c.cfgs[i].RaftBind = t.RaftAddr()
	c.tables[i] = t
	c.net.mu.Lock()
	c.net.tables[t.cfg.NodeID] = t
	c.net.mu.Unlock()
}

func (c *testCluster) stop(i int) {
	c.tb.Helper()
	c.net.mu.Lock()
	delete(c.net.tables, c.cfgs[i].NodeID)
	c.net.mu.Unlock()
	if err := c.tables[i].Shutdown(context.Background()); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *testCluster) shutdownAll() {
	for _, t := range c.tables {
		if t != nil {
			_ = t.Shutdown(context.Background())
		}
	}
}

// waitLeader waits until one live table leads and every live table knows
// it, and returns its position.
func (c *testCluster) waitLeader() int {
	c.tb.Helper()
	var leader int
	waitFor(c.tb, 10*time.Second, func() error {
		leader = -1
		var id transport.NodeID
		for i, t := range c.tables {
			if t.isShutdown() {
				continue
			}
			if t.IsLeader() && t.readyForReads.Load() {
				leader = i
			}
			got, _ := t.Leader()
			if got == "" || (id != "" && got != id) {
				return fmt.Errorf("%s sees leader %q", t.cfg.NodeID, got)
			}
			id = got
		}
		if leader < 0 {
			return errors.New("no ready leader")
		}
		return nil
	})
	return leader
}

// follower returns the position of a live table that is not the leader.
func (c *testCluster) follower() int {
	l := c.waitLeader()
	for i, t := range c.tables {
		if i != l && !t.isShutdown() {
			return i
		}
	}
	c.tb.Fatal("no live follower")
	return -1
}

// waitFor polls fn until it returns nil or timeout passes, then fails with
// fn's last error.
func waitFor(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func testCtxCancel(tb testing.TB) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	return ctx, cancel
}

func recvEvents(tb testing.TB, ch <-chan Event, n int) []Event {
	tb.Helper()
	var out []Event
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				tb.Fatalf("channel closed after %d events", len(out))
			}
			out = append(out, e)
		case <-timeout:
			tb.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

func waitClosed(tb testing.TB, ch <-chan Event) {
	tb.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			tb.Fatal("watch channel not closed")
		}
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
