package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/internal/testhook"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// Errors of the harness.
var (
	ErrNoSuchNode  = errors.New("cluster: no such node index")
	ErrNodeDown    = errors.New("cluster: node is not running")
	ErrNodeRunning = errors.New("cluster: node is already running")
	ErrNoLeader    = errors.New("cluster: no leader agreed on")
)

// Options shape an in-process cluster.
type Options struct {
	// Nodes is how many server nodes to start. Default 3.
	Nodes int
	// Profile picks gossip and Raft timings. Default cnode.ProfileFast
	// (detection in ~1.5 s), so that tests spend their time on faults,
	// not on waiting.
	Profile cnode.Profile
	// StartTimeout bounds New's wait for a healthy cluster. Default 30 s
	// (generous: CI runs under -race on 2 shared cores).
	StartTimeout time.Duration
	// Tune, when set, adjusts each node's cluster config before it starts
	// (after the harness filled in its fault-injection seams).
	Tune func(i int, cc *cnode.Config)
	// TuneGlobal, when set, adjusts each node's global-table config last
	// (e.g. a tiny SnapshotThreshold), through internal/testhook.
	TuneGlobal func(i int, gc *global.Config)
}

func (o *Options) fill() {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Profile == "" {
		o.Profile = cnode.ProfileFast
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
}

// Cluster is an in-process cluster of real nodes (memberlist, Raft on
// raft-boltdb, our TCP transport) on loopback, with every layer's traffic
// routed through one fault-injecting Net. Methods are safe for concurrent
// use; node indexes run from 0 to Options.Nodes-1.
type Cluster struct {
	t    testing.TB
	opts Options
	net  *Net
	log  *testLog
	lvl  hclog.Level

	mu     sync.Mutex
	slots  []*slot
	probes map[*cnode.Node]node.PID // MeasureFailover's writers
}

// slot is one node position: its identity, data dir and ports outlive a
// Kill, so Restart brings the same server back.
type slot struct {
	id                    transport.NodeID
	dir                   string
	gossip, trans, raftPt int
	n                     *cnode.Node // nil while killed
	frozen                bool
}

// New starts opts.Nodes nodes that bootstrap one cluster, and waits until
// every node is healthy. The cluster shuts down in t.Cleanup.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts.fill()
	c := &Cluster{t: t, opts: opts, net: NewNet(), probes: map[*cnode.Node]node.PID{}}
	c.log, c.lvl = newTestLog(t)
	for i := 0; i < opts.Nodes; i++ {
		c.slots = append(c.slots, &slot{id: transport.NodeID(fmt.Sprintf("n%d", i+1)), dir: t.TempDir()})
	}
	t.Cleanup(c.shutdownAll)
	for i := range c.slots {
		if err := c.start(i); err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
	}
	if err := c.WaitHealthy(opts.StartTimeout); err != nil {
		t.Fatalf("cluster did not form: %v", err)
	}
	return c
}

// Net returns the fault network every node's traffic goes through.
func (c *Cluster) Net() *Net { return c.net }

// Size is the number of node slots.
func (c *Cluster) Size() int { return len(c.slots) }

// ID returns node i's id.
func (c *Cluster) ID(i int) transport.NodeID { return c.slots[i].id }

// DataDir returns node i's data dir (it outlives Kill).
func (c *Cluster) DataDir(i int) string { return c.slots[i].dir }

// Logger returns an hclog logger that writes where the nodes' logs go.
func (c *Cluster) Logger(name string) hclog.Logger { return c.log.logger(name, c.lvl) }

// Node returns node i, or nil while it is killed.
func (c *Cluster) Node(i int) *cnode.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.slots) {
		return nil
	}
	return c.slots[i].n
}

// Running returns the indexes of the nodes that are up.
func (c *Cluster) Running() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, s := range c.slots {
		if s.n != nil {
			out = append(out, i)
		}
	}
	return out
}

// start boots slot i on its ports (0: free ones, then remembered) and
// joins it to the running nodes.
func (c *Cluster) start(i int) error {
	c.mu.Lock()
	s := c.slots[i]
	if s.n != nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNodeRunning, i)
	}
	var seeds []string
	for j, o := range c.slots {
		if j != i && o.n != nil {
			seeds = append(seeds, o.n.GossipAddr())
		}
	}
	c.mu.Unlock()
	nd, err := c.boot(i, s)
	if err != nil {
		return err
	}
	c.mu.Lock()
	s.n = nd
	c.mu.Unlock()
	if len(seeds) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := nd.Join(ctx, seeds); err != nil {
			// Not fatal: the node's rejoin loop retries (seeds may be cut).
			c.Logger("harness").Warn("join failed", "node", s.id, "error", err)
		}
	}
	return nil
}

// boot builds and starts one node with its listeners on the fault network.
func (c *Cluster) boot(i int, s *slot) (*cnode.Node, error) {
	loop := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	gt, err := c.net.NewGossipTransport(s.id, s.gossip)
	if err != nil {
		return nil, fmt.Errorf("gossip listener: %w", err)
	}
	sl, err := c.net.NewStreamLayer(s.id, loop(s.raftPt))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raft listener: %w", err), gt.Shutdown())
	}
	ln, err := c.net.NewListener(s.id, loop(s.trans))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("transport listener: %w", err), gt.Shutdown(), sl.Close())
	}
	s.gossip, s.raftPt, s.trans = gt.Port(), port(sl.Addr()), port(ln.Addr())
	cc := cnode.DefaultConfig()
	cc.NodeID = s.id
	cc.Logger = c.log.logger(string(s.id), c.lvl)
	cc.DataDir, cc.Profile, cc.BootstrapExpect = s.dir, c.opts.Profile, len(c.slots)
	cc.GossipPort, cc.RaftPort, cc.TransportPort = s.gossip, s.raftPt, s.trans
	dial := c.net.Dialer(s.id)
	hooks := testhook.Cluster{GossipTransport: gt, RaftStreamLayer: sl,
		Transport: func(tc *transport.Config) { tc.Listener, tc.Dialer = ln, dial }}
	if c.opts.Tune != nil {
		c.opts.Tune(i, &cc)
	}
	if tg := c.opts.TuneGlobal; tg != nil {
		hooks.Global = func(gc *global.Config) { tg(i, gc) }
	}
	nd, err := testhook.NewCluster[cnode.Config, *cnode.Node](cc, hooks)
	if err != nil {
		return nil, errors.Join(err, gt.Shutdown(), sl.Close(), ln.Close())
	}
	if err := nd.Start(context.Background()); err != nil {
		return nil, errors.Join(err, c.stop(nd))
	}
	return nd, nil
}

func port(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// stop shuts nd down without leaving (a crash, as far as the cluster can
// tell: nothing is purged or handed over first).
func (c *Cluster) stop(nd *cnode.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := nd.Shutdown(ctx)
	if err != nil {
		// A shutdown that hangs is a bug worth a stack dump.
		path := dumpGoroutines(fmt.Sprintf("shutdown-%s", nd.ID()))
		c.Logger("harness").Error("node shutdown timed out; goroutines dumped", "node", nd.ID(), "file", path)
		return fmt.Errorf("%w (goroutines in %s)", err, path)
	}
	return nil
}

// dumpGoroutines writes every goroutine's stack to ArtifactDir and returns
// the file's path ("" if it could not be written).
func dumpGoroutines(label string) string {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if os.MkdirAll(ArtifactDir, 0o755) != nil {
		return ""
	}
	path := filepath.Join(ArtifactDir, fmt.Sprintf("%s-%d.txt", label, time.Now().UnixNano()))
	if os.WriteFile(path, buf, 0o644) != nil {
		return ""
	}
	return path
}

// Kill crashes node i: it is cut off the network first (so nothing it does
// while stopping reaches anyone), then shut down without leaving. Its data
// dir and ports are kept for Restart.
func (c *Cluster) Kill(i int) error {
	done, err := c.KillAsync(i)
	if err != nil {
		return err
	}
	return <-done
}

// KillAsync is Kill that returns once node i is cut off and out of
// Running; the shutdown's result arrives on the channel. Restart only
// after it arrived (the ports are busy until then).
func (c *Cluster) KillAsync(i int) (<-chan error, error) {
	c.mu.Lock()
	if i < 0 || i >= len(c.slots) {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %d", ErrNoSuchNode, i)
	}
	s := c.slots[i]
	nd := s.n
	s.n = nil
	c.mu.Unlock()
	if nd == nil {
		return nil, fmt.Errorf("%w: %d", ErrNodeDown, i)
	}
	c.net.Freeze(s.id)
	done := make(chan error, 1)
	go func() {
		err := c.stop(nd)
		c.mu.Lock()
		frozen := s.frozen
		c.mu.Unlock()
		if !frozen {
			c.net.Thaw(s.id) // the ports are closed now; nothing to cut
		}
		done <- err
	}()
	return done, nil
}

// Restart boots killed node i again with the same data dir and ports (Raft's
// stored configuration names its address) and a new incarnation. Under
// -race, run with -gcflags=github.com/boltdb/bolt=-d=checkptr=0 (see
// README.md): boltdb's pointer conversions fail checkptr.
func (c *Cluster) Restart(i int) error {
	if i < 0 || i >= len(c.slots) {
		return fmt.Errorf("%w: %d", ErrNoSuchNode, i)
	}
	return c.start(i)
}

// Partition splits the nodes (by index) into groups that cannot reach each
// other, on every layer. Nodes not named form one more group.
func (c *Cluster) Partition(groups ...[]int) {
	ids := make([][]transport.NodeID, len(groups))
	for g, idx := range groups {
		for _, i := range idx {
			ids[g] = append(ids[g], c.slots[i].id)
		}
	}
	c.net.Partition(ids...)
}

// Bridge partitions the other nodes into two sides that cannot reach each
// other while node bridge reaches both (a non-transitive partition: the
// bridge may lead, the sides' nodes keep hearing of each other only
// through it). left lists one side; the rest form the other.
func (c *Cluster) Bridge(bridge int, left []int) {
	var l, r []transport.NodeID
	for i, s := range c.slots {
		switch {
		case i == bridge:
		case slices.Contains(left, i):
			l = append(l, s.id)
		default:
			r = append(r, s.id)
		}
	}
	b := c.slots[bridge].id
	c.net.Partition(l, r, []transport.NodeID{b})
	for _, id := range append(l, r...) {
		c.net.Link(b, id)
	}
}

// Heal ends any partition and thaws every frozen node.
func (c *Cluster) Heal() {
	c.net.Heal()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.slots {
		if s.frozen {
			s.frozen = false
			c.net.Thaw(s.id)
		}
	}
}

// Freeze cuts node i off from everyone while its goroutines run on (an
// in-process SIGSTOP). Thaw or Heal undoes it.
func (c *Cluster) Freeze(i int) {
	c.mu.Lock()
	c.slots[i].frozen = true
	c.mu.Unlock()
	c.net.Freeze(c.slots[i].id)
}

// Thaw reconnects frozen node i.
func (c *Cluster) Thaw(i int) {
	c.mu.Lock()
	c.slots[i].frozen = false
	c.mu.Unlock()
	c.net.Thaw(c.slots[i].id)
}

// shutdownAll stops every running node (t.Cleanup).
func (c *Cluster) shutdownAll() {
	c.net.Heal()
	var wg sync.WaitGroup
	for _, i := range c.Running() {
		nd := c.Node(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.stop(nd)
		}()
	}
	wg.Wait()
}
