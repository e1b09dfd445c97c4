package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/internal/testhook"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// Node is a clustered Roster node: the process runtime (*node.Node,
// embedded, so Spawn, Send, Monitor, Names and the rest are its methods)
// joined to a Roster cluster by a TCP transport, the Raft-replicated
// global name table, memberlist gossip and the controller that acts on
// what gossip sees (bootstrap, Raft voters, purges of dead nodes' names).
// All methods are safe for concurrent use.
type Node struct {
	*node.Node

	cfg   Config
	hooks testhook.Cluster
	tr    transport.Transport
	table *global.Table
	ml    *membership.Membership
	ctl   *controller
	owned *ownedNames
	exits *globalExits
	links *linkWatch
	stats *clusterStats
	// groups is the cluster-wide process groups (groups*.go).
	groups *groupEngine

	leases       *leaseKeeper
	singletonsMu sync.Mutex
	singletons   map[string]*Singleton
	leaderships  map[*Leadership]struct{}

	keyMu     sync.Mutex  // serialises keyring changes (keyring.go)
	leaving   atomic.Bool // Leave has begun: our names go on purpose
	startOnce sync.Once
	startErr  error
	stopOnce  sync.Once
	shutOnce  sync.Once
	shutDone  chan struct{}
	wg        sync.WaitGroup  // the cluster part's goroutines
	ctx       context.Context // ends when the cluster part stops
	cancel    context.CancelFunc
}

func init() { testhook.SetNewCluster(newNode) }

// newTransport builds the TCP transport for a cluster node (before the
// runtime exists, since the runtime takes it from its Config).
func newTransport(c *Config, h testhook.Cluster) (transport.Transport, error) {
	tc := transport.DefaultConfig()
	tc.NodeID, tc.Incarnation = c.NodeID, c.Incarnation
	tc.ClusterID, tc.ClusterKey, tc.Keyring = c.ClusterID, c.Key, c.ring
	tc.BindAddr = net.JoinHostPort(c.BindAddr, strconv.Itoa(c.TransportPort))
	if c.AdvertiseAddr != "" {
		tc.AdvertiseAddr = net.JoinHostPort(c.AdvertiseAddr, strconv.Itoa(c.TransportPort))
	}
	tc.CAFile, tc.CertFile, tc.KeyFile = c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile
	tc.Logger = c.Logger
	if t := c.Profile.timings(); t.redialMax > 0 {
		tc.RedialMin, tc.RedialMax = t.redialMin, t.redialMax
	}
	if h.Transport != nil {
		h.Transport(&tc)
	}
	tr, err := transport.NewTCPTransport(tc)
	if err != nil {
		return nil, fmt.Errorf("cluster: transport: %w", err)
	}
	return tr, nil
}

// New builds a clustered node from a copy of cfg: it binds the transport,
// opens the global table (its Raft state in DataDir) and starts gossip.
// Local processes can be spawned at once; Start joins the cluster.
func New(cfg Config) (*Node, error) { return newNode(cfg, testhook.Cluster{}) }

// newNode is New with test seams (internal/testhook).
func newNode(cfg Config, h testhook.Cluster) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg
	c.Join = append([]string(nil), cfg.Join...)
	if len(cfg.Key) > 0 {
		c.Key = append([]byte(nil), cfg.Key...)
	}
	c.setDefaults()
	if err := c.reservePorts(); err != nil {
		return nil, err
	}
	var err error
	if c.ring, err = openKeyring(&c, c.Logger); err != nil {
		return nil, err
	}
	if c.Incarnation == 0 && c.Transport == nil {
		inc, err := node.NewIncarnation()
		if err != nil {
			return nil, err
		}
		c.Incarnation = inc
	}
	tr := c.Transport
	if tr == nil {
		if tr, err = newTransport(&c, h); err != nil {
			return nil, err
		}
	}
	if !c.InmemStore {
		id, _ := tr.LocalNode()
		if err := claimDataDir(c.DataDir, id, c.RejoinAsNew); err != nil {
			return nil, errors.Join(err, tr.Close())
		}
	}
	n := &Node{cfg: c, hooks: h, tr: tr, stats: newClusterStats(c.Metrics), links: newLinkWatch(), shutDone: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	t, err := n.newTable()
	if err != nil {
		return nil, errors.Join(err, tr.Close())
	}
	n.table = t
	rc := c.Config
	router := &rpcRouter{t: t, n: n}
	rc.Transport, rc.Global, rc.Requests, rc.Peers = tr, t, router, n.links
	if n.Node, err = node.New(rc); err != nil {
		return nil, errors.Join(err, t.Shutdown(context.Background()), tr.Close())
	}
	if n.groups, err = newGroupEngine(n.ID(), n.Incarnation(), n.Node, tr, c.groupConfig(), c.Logger); err != nil {
		return nil, errors.Join(err, t.Shutdown(context.Background()), tr.Close())
	}
	router.groups = n.groups // before Start: no request arrives earlier
	n.owned = newOwnedNames(n)
	n.exits = newGlobalExits(n)
	n.leases = newLeaseKeeper(n)
	n.singletons = make(map[string]*Singleton)
	n.leaderships = make(map[*Leadership]struct{})
	if n.ml, err = n.newMembership(); err != nil {
		return nil, errors.Join(err, t.Shutdown(context.Background()), tr.Close())
	}
	n.ctl, err = newController(n.ml, controllerConfig{
		Self: n.ID(), Expect: c.BootstrapExpect, PurgeGrace: c.PurgeGrace,
		ReconcileInterval: c.ReconcileInterval, DeadServerGrace: c.DeadServerGrace,
		LeaseWait: leaseTimingFor(c.Profile).successorWait(),
		Profile:   c.Profile, Table: t, Hooks: clusterHooks{n}, Metrics: n.stats.controllerMetrics(),
		Logger: c.Logger,
	})
	if err != nil {
		return nil, errors.Join(err, n.ml.Shutdown(context.Background()), t.Shutdown(context.Background()), tr.Close())
	}
	return n, nil
}

// newTable opens the global name table on the transport (its forwarder).
func (n *Node) newTable() (*global.Table, error) {
	c := n.cfg
	gc := global.DefaultConfig()
	gc.Timing = c.Profile.timings().raft
	id, _ := n.tr.LocalNode()
	gc.NodeID, gc.DataDir, gc.InmemStore = id, c.DataDir, c.InmemStore
	if c.RaftLogStore != "" {
		gc.LogStore = c.RaftLogStore
	}
	gc.RejoinAsNew = c.RejoinAsNew
	gc.RaftBind = net.JoinHostPort(c.BindAddr, strconv.Itoa(c.RaftPort))
	if c.AdvertiseAddr != "" {
		gc.RaftAdvertise = net.JoinHostPort(c.AdvertiseAddr, strconv.Itoa(c.RaftPort))
	}
	gc.StreamLayer = n.hooks.RaftStreamLayer
	gc.Metrics = c.Metrics
	var err error
	if gc.RaftAuth, err = raftAuth(&c, id, c.Logger); err != nil {
		return nil, err
	}
	gc.Forwarder = n.tr
	gc.Logger = c.Logger
	gc.OnLeadershipChange = n.stats.leadershipChanged
	if n.hooks.Global != nil {
		n.hooks.Global(&gc)
	}
	t, err := global.New(gc)
	if err != nil {
		return nil, fmt.Errorf("cluster: global table: %w", err)
	}
	return t, nil
}

func (n *Node) newMembership() (*membership.Membership, error) {
	cc := n.cfg
	mc := membership.DefaultConfig()
	mc.Meta = membership.Meta{
		Cluster: cc.ClusterID, Node: n.ID(), Incarnation: n.Incarnation(),
		Transport: advertised(n.tr), Raft: n.table.RaftAddr(), Role: cc.Role,
		Expect: cc.BootstrapExpect, HasState: n.table.HasState(),
	}
	mc.BindAddr, mc.BindPort = cc.BindAddr, cc.GossipPort
	if cc.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort = cc.AdvertiseAddr, cc.GossipPort
	}
	mc.Key, mc.Keys = gossipKeys(cc.ring)
	mc.Transport, mc.Logger = n.hooks.GossipTransport, cc.Logger
	mc.Memberlist, mc.RejoinInterval = cc.Profile.memberlist(), cc.Profile.timings().rejoin
	mc.Resolver = cc.Resolver
	if n.hooks.Gossip != nil {
		n.hooks.Gossip(&mc)
	}
	ml, err := membership.New(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip: %w", err)
	}
	return ml, nil
}

// advertised returns the transport's dialable address.
func advertised(tr transport.Transport) string {
	if a, ok := tr.(interface{ Addr() string }); ok {
		return a.Addr()
	}
	return ""
}

// Start starts the runtime (transport and signal sender), the controller,
// the global-name watchers and the initial join of Config.Join. An
// unreachable seed is not an error: the rejoin loop keeps dialling it.
// It blocks only for the join (bounded by ctx) and is idempotent.
func (n *Node) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.startOnce.Do(func() {
		if err := n.Node.Start(ctx); err != nil {
			n.startErr = err
			return
		}
		n.ctl.Start()
		n.goTracked(n.owned.run)
		n.goTracked(n.owned.watchContact)
		n.goTracked(n.exits.run)
		n.goTracked(n.purgeOwnPast)
		n.goTracked(n.reconcileGroups)
		if len(n.cfg.Join) > 0 {
			if _, err := n.ml.Join(ctx, n.cfg.Join); err != nil {
				// Not fatal: the rejoin loop keeps dialling the seeds.
				n.Logger().Warn("initial join failed; retrying in the background", "seeds", n.cfg.Join, "error", err)
			}
		}
	})
	return n.startErr
}

// goTracked runs fn on a goroutine that stop waits for.
func (n *Node) goTracked(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

// Shutdown stops the cluster part (controller, gossip without a leave
// announcement, the global table), then shuts the runtime down (see
// node.Node.Shutdown). Peers purge this node's names once gossip declares
// it dead; Leave departs gracefully instead. It waits for all of that or
// for ctx's end, whichever comes first; it is idempotent, and later calls
// wait for the first to finish.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutOnce.Do(func() {
		go func() {
			defer close(n.shutDone)
			n.stop()
			_ = n.Node.Shutdown(context.Background())
		}()
	})
	select {
	case <-n.shutDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: shutdown: %w", ctx.Err())
	}
}

// stop shuts down gossip, the controller and the table (no leave).
func (n *Node) stop() {
	n.stopOnce.Do(func() {
		// No Start after this (one already running finishes first).
		n.startOnce.Do(func() { n.startErr = node.ErrShutdown })
		n.cancel()
		n.ctl.Stop()
		n.wg.Wait()
		n.groups.close()
		if err := n.ml.Shutdown(context.Background()); err != nil {
			n.Logger().Warn("gossip shutdown", "error", err)
		}
		if err := n.table.Shutdown(context.Background()); err != nil {
			n.Logger().Warn("global table shutdown", "error", err)
		}
	})
}

// Budgets of Leave's steps, so that a cluster without quorum (everyone
// leaving at once, say) still leaves time for the shutdown that follows.
const (
	leaveStopTimeout     = 3 * time.Second
	leavePurgeTimeout    = 5 * time.Second
	leaveTransferTimeout = 3 * time.Second
	leaveGossipTimeout   = 3 * time.Second
)

// leave stops this node's singletons and the other owners of global names,
// purges this incarnation's names, hands Raft leadership over if it
// holds it, and announces the departure in gossip (the leader then removes
// this server from Raft). Each step is bounded; a failed step is reported
// and the next one still runs.
func (n *Node) leave(ctx context.Context) error {
	var errs []error
	n.leaving.Store(true)
	step := func(d time.Duration, what string, fn func(context.Context) error) {
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		if err := fn(sctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	// First stop what holds global names, so nothing runs on under a name
	// the purge below gives away: singletons and leaderships (each within
	// its stop budget), then every other owner, told GlobalNameLost with
	// reason node_left and sent an exit signal (Shutdown): monitors on
	// other nodes hear "shutdown", not a later nodedown.
	step(leaveStopTimeout, "stop singletons", n.stopSingletons)
	step(leaveStopTimeout, "stop global name owners", n.stopNameOwners)
	step(leavePurgeTimeout, "purge own names", func(ctx context.Context) error {
		_, err := n.table.PurgeIncarnation(ctx, n.ID(), n.Incarnation(), global.ReasonNodeLeft)
		return err
	})
	if n.table.IsLeader() && n.otherVoters() > 0 {
		step(leaveTransferTimeout, "transfer leadership", n.table.TransferLeadership)
	}
	step(leaveGossipTimeout, "leave gossip", n.ml.Leave)
	return errors.Join(errs...)
}

// otherVoters counts the Raft voters other than this node.
func (n *Node) otherVoters() int {
	servers, err := n.table.Configuration()
	if err != nil {
		return 0
	}
	others := 0
	for _, s := range servers {
		if !s.Nonvoter && s.ID != n.ID() {
			others++
		}
	}
	return others
}

// rpcRouter serves the transport's RPCs: "global.*" go to the table,
// "groups.*" to the process groups, keyring operations to the node.
type rpcRouter struct {
	t      *global.Table
	groups *groupEngine
	n      *Node
}

var _ node.RequestHandler = (*rpcRouter)(nil)

func (r *rpcRouter) HandleRequest(ctx context.Context, from node.NodeID, method string, body []byte) ([]byte, error) {
	if strings.HasPrefix(method, "global.") {
		return r.t.HandleRPC(ctx, from, method, body)
	}
	if isGroupMethod(method) && r.groups != nil {
		return r.groups.handleRequest(ctx, from, method, body)
	}
	if method == keyringRPC {
		return r.n.handleKeyring(body)
	}
	return nil, fmt.Errorf("%w: %q", node.ErrNoHandler, method)
}

// The runtime resolves global names through the table itself, and checks
// a local miss with the leader through it (read your writes).
var (
	_ node.GlobalResolver = (*global.Table)(nil)
	_ node.LeaderResolver = (*global.Table)(nil)
)

// purgeGrace is how long the cluster waits after a node's death before
// purging its names.
func (n *Node) purgeGrace() time.Duration {
	if n.cfg.PurgeGrace > 0 {
		return n.cfg.PurgeGrace
	}
	return n.cfg.Profile.PurgeGrace()
}

// retryCtx bounds background writes (exit unregisters): 10 s, or until
// the cluster part stops.
func (n *Node) retryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(n.ctx, 10*time.Second)
}
