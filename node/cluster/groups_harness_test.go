package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// groupTestLogger sends logs to t.Log so a passing run is quiet.
func groupTestLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: groupTWriter{t}, DisableTime: true})
}

type groupTWriter struct{ t testing.TB }

func (w groupTWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// groupRouter serves the groups' RPCs on a runtime node.
type groupRouter struct{ e *groupEngine }

func (r groupRouter) HandleRequest(ctx context.Context, from node.NodeID, method string, body []byte) ([]byte, error) {
	return r.e.handleRequest(ctx, from, method, body)
}

// groupTestNode is one runtime node with its group engine, over the
// in-memory transport (every frame round-trips through the codec).
type groupTestNode struct {
	id    node.NodeID
	rt    *node.Node
	tr    *transport.InmemTransport
	e     *groupEngine
	up    bool
	inc   uint64
	calls *groupCountingCaller
}

// groupTestCluster is a set of nodes whose "membership" is the test: it
// tells each engine about the others (peerAlive/peerGone) the way the
// cluster node's gossip hooks do.
type groupTestCluster struct {
	t     testing.TB
	net   *transport.InmemNetwork
	cfg   GroupConfig
	nodes []*groupTestNode
	rng   *rand.Rand
	boot  uint64
}

func newGroupTestCluster(t testing.TB, n int, seed int64, cfg GroupConfig) *groupTestCluster {
	t.Helper()
	c := &groupTestCluster{t: t, net: transport.NewInmemNetwork(seed), cfg: cfg, rng: rand.New(rand.NewPCG(uint64(seed), 7))}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, &groupTestNode{id: node.NodeID(fmt.Sprintf("n%d", i+1))})
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.announceAll()
	t.Cleanup(c.shutdown)
	return c
}

// start boots node i with a new incarnation.
func (c *groupTestCluster) start(i int) {
	c.t.Helper()
	gn := c.nodes[i]
	c.boot++
	gn.inc = 1000*c.boot + uint64(i) + 1
	tc := transport.DefaultLocalConfig()
	tc.NodeID, tc.Incarnation, tc.Logger = gn.id, gn.inc, groupTestLogger(c.t)
	tr, err := c.net.NewTransport(tc)
	if err != nil {
		c.t.Fatal(err)
	}
	rt, err := node.New(node.Config{NodeID: gn.id, Transport: tr, RegistryPartitions: 1, Logger: groupTestLogger(c.t)})
	if err != nil {
		c.t.Fatal(err)
	}
	gn.calls = &groupCountingCaller{inner: tr}
	e, err := newGroupEngine(gn.id, gn.inc, rt, gn.calls, c.cfg, groupTestLogger(c.t))
	if err != nil {
		c.t.Fatal(err)
	}
	rt.SetRequestHandler(groupRouter{e})
	if err := rt.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	gn.rt, gn.tr, gn.e, gn.up = rt, tr, e, true
}

// stop shuts node i down (no membership event: see kill).
func (c *groupTestCluster) stop(i int) {
	gn := c.nodes[i]
	if !gn.up {
		return
	}
	gn.up = false
	gn.e.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gn.rt.Shutdown(ctx); err != nil {
		c.t.Errorf("shutdown %s: %v", gn.id, err)
	}
}

// kill stops node i and has membership declare it dead on the others.
func (c *groupTestCluster) kill(i int) {
	gn := c.nodes[i]
	c.stop(i)
	for _, o := range c.live() {
		o.e.peerGone(gn.id, gn.inc, GroupNodeDown)
		o.tr.RemovePeer(gn.id)
	}
}

// restart boots node i again (new incarnation) and announces it.
func (c *groupTestCluster) restart(i int) {
	c.start(i)
	c.announceAll()
}

func (c *groupTestCluster) live() []*groupTestNode {
	var out []*groupTestNode
	for _, gn := range c.nodes {
		if gn.up {
			out = append(out, gn)
		}
	}
	return out
}

// announceAll tells every live node where the others are and that they
// are alive (idempotent, like gossip's repeated alive messages).
func (c *groupTestCluster) announceAll() {
	for _, a := range c.live() {
		for _, b := range c.live() {
			if a != b {
				a.tr.SetPeer(b.id, b.tr.Addr(), b.inc)
				a.e.peerAlive(b.id, b.inc)
			}
		}
	}
}

func (c *groupTestCluster) shutdown() {
	for i := range c.nodes {
		c.stop(i)
	}
}

// spawn starts a process on node i that forwards its messages to the
// returned channel (buffered) and exits when ctx is done or told "exit".
func (c *groupTestCluster) spawn(i int) (node.PID, chan node.Message) {
	c.t.Helper()
	ch := make(chan node.Message, 4096)
	pid, err := c.nodes[i].rt.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if s, ok := m.Body.(string); ok && s == "exit" {
				return fmt.Errorf("told to exit")
			}
			select {
			case ch <- m:
			default:
			}
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return pid, ch
}

// spawnIdle starts a process on node i that waits until killed.
func (c *groupTestCluster) spawnIdle(i int) node.PID {
	c.t.Helper()
	pid, err := c.nodes[i].rt.Spawn(func(ctx context.Context, _ *node.Process) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return pid
}

// groupView renders what a node sees in every scope: one line per member.
func groupViewOf(e *groupEngine) []string {
	var out []string
	for _, s := range e.list {
		infos, _ := s.ListGroups("", "", 0)
		for _, gi := range infos {
			for _, m := range s.GroupMembers(gi.Name) {
				out = append(out, fmt.Sprintf("%s/%s %s x%d %q", s.name, gi.Name, m.PID, m.Count, m.Meta))
			}
		}
	}
	slices.Sort(out)
	return out
}

// truth is every live node's own members: what every view must converge to.
func (c *groupTestCluster) truth() []string {
	var out []string
	for _, gn := range c.live() {
		for _, s := range gn.e.list {
			infos, _ := s.ListGroups("", "", 0)
			for _, gi := range infos {
				for _, m := range s.LocalGroupMembers(gi.Name) {
					out = append(out, fmt.Sprintf("%s/%s %s x%d %q", s.name, gi.Name, m.PID, m.Count, m.Meta))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// converged returns nil once every live node's view equals the truth.
func (c *groupTestCluster) converged() error {
	want := c.truth()
	for _, gn := range c.live() {
		if got := groupViewOf(gn.e); !slices.Equal(got, want) {
			return fmt.Errorf("%s sees %d members, truth has %d; first difference: %s", gn.id, len(got), len(want), groupFirstDiff(got, want))
		}
	}
	return nil
}

func groupFirstDiff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return "missing " + want[i]
		case i >= len(want):
			return "extra " + got[i]
		case got[i] != want[i]:
			return fmt.Sprintf("has %s, want %s", got[i], want[i])
		}
	}
	return "none"
}

// groupWait polls cond until it returns nil or d passes, then fails with
// the last error.
func groupWait(t testing.TB, d time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// groupCountingCaller wraps a caller and counts frames per method and peer.
type groupCountingCaller struct {
	inner groupCaller
	mu    sync.Mutex
	calls map[string]int
}

func (c *groupCountingCaller) Call(ctx context.Context, peer node.NodeID, method string, body []byte) ([]byte, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = make(map[string]int)
	}
	c.calls[method+" "+string(peer)]++
	c.mu.Unlock()
	return c.inner.Call(ctx, peer, method, body)
}

func (c *groupCountingCaller) count(method string, peer node.NodeID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method+" "+string(peer)]
}
