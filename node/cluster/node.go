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
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// cluster is the part of a Node that exists when Config.Cluster is set:
// the TCP transport (held by the Node as n.tr), the global table, gossip
// membership and the controller that joins them up.
type cluster struct {
	cfg   ClusterConfig
	n     *Node
	table *global.Table
	ml    *membership.Membership
	ctl   *membership.Controller
	owned *ownedNames
	exits *globalExits
	links *linkWatch
	stats *clusterStats

	leaving  atomic.Bool // Leave has begun: our names go on purpose
	stopOnce sync.Once
	ctx      context.Context // ends when the cluster part stops
	cancel   context.CancelFunc
}

// newTransport builds the TCP transport for a cluster node (before the
// Node exists, since the Node takes it from its Config).
func newTransport(c *Config) (transport.Transport, error) {
	cc := c.Cluster
	tc := transport.DefaultConfig()
	tc.NodeID, tc.Incarnation = c.NodeID, c.Incarnation
	tc.ClusterID, tc.ClusterKey = cc.ClusterID, cc.Key
	tc.BindAddr = net.JoinHostPort(cc.BindAddr, strconv.Itoa(cc.TransportPort))
	if cc.AdvertiseAddr != "" {
		tc.AdvertiseAddr = net.JoinHostPort(cc.AdvertiseAddr, strconv.Itoa(cc.TransportPort))
	}
	tc.CAFile, tc.CertFile, tc.KeyFile = cc.TLSCAFile, cc.TLSCertFile, cc.TLSKeyFile
	tc.Logger = c.Logger
	if cc.TuneTransport != nil {
		cc.TuneTransport(tc)
	}
	tr, err := transport.NewTCPTransport(tc)
	if err != nil {
		return nil, fmt.Errorf("node: transport: %w", err)
	}
	return tr, nil
}

// newCluster opens the global table and starts gossip. The transport is
// already bound (n.tr).
func newCluster(n *Node, cc ClusterConfig) (*cluster, error) {
	if !cc.InmemStore {
		if err := claimDataDir(cc.DataDir, n.id); err != nil {
			return nil, err
		}
	}
	c := &cluster{cfg: cc, n: n, stats: newClusterStats()}
	c.owned = newOwnedNames(c)
	c.links = newLinkWatch()
	c.exits = newGlobalExits(c)
	gc := global.DefaultConfig()
	if cc.Profile == membership.ProfileFast {
		gc = global.DefaultLocalConfig()
	}
	gc.NodeID, gc.DataDir, gc.InmemStore = n.id, cc.DataDir, cc.InmemStore
	gc.RaftBind = net.JoinHostPort(cc.BindAddr, strconv.Itoa(cc.RaftPort))
	if cc.AdvertiseAddr != "" {
		gc.RaftAdvertise = net.JoinHostPort(cc.AdvertiseAddr, strconv.Itoa(cc.RaftPort))
	}
	gc.StreamLayer = cc.RaftStreamLayer
	gc.Forwarder = n.tr
	gc.Logger = n.cfg.Logger
	gc.OnLeadershipChange = c.stats.leadershipChanged
	if cc.TuneGlobal != nil {
		cc.TuneGlobal(&gc)
	}
	t, err := global.New(gc)
	if err != nil {
		return nil, fmt.Errorf("node: global table: %w", err)
	}
	c.table = t
	if c.ml, err = c.newMembership(); err != nil {
		return nil, errors.Join(err, t.Shutdown())
	}
	ctl, err := membership.NewController(c.ml, membership.ControllerConfig{
		Self: n.id, Expect: cc.BootstrapExpect, PurgeGrace: cc.PurgeGrace,
		ReconcileInterval: cc.ReconcileInterval, DeadServerGrace: cc.DeadServerGrace,
		Table: tableAdapter{t}, Hooks: clusterHooks{c}, Metrics: c.stats.controllerMetrics(),
		Logger: n.cfg.Logger,
	})
	if err != nil {
		return nil, errors.Join(err, c.ml.Shutdown(), t.Shutdown())
	}
	c.ctl = ctl
	n.SetGlobal(globalNames{t})
	n.SetRequestHandler(rpcRouter{t})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

func (c *cluster) newMembership() (*membership.Membership, error) {
	cc := c.cfg
	mc := membership.DefaultConfig()
	mc.Meta = membership.Meta{
		Cluster: cc.ClusterID, Node: c.n.id, Incarnation: c.n.inc,
		Transport: advertised(c.n.tr), Raft: c.table.RaftAddr(), Role: cc.Role,
		Expect: cc.BootstrapExpect, HasState: c.table.HasState(),
	}
	mc.BindAddr, mc.BindPort = cc.BindAddr, cc.GossipPort
	if cc.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort = cc.AdvertiseAddr, cc.GossipPort
	}
	mc.Key, mc.Profile, mc.Transport, mc.Logger = cc.Key, cc.Profile, cc.GossipTransport, c.n.cfg.Logger
	if cc.TuneGossip != nil {
		cc.TuneGossip(mc)
	}
	ml, err := membership.New(mc)
	if err != nil {
		return nil, fmt.Errorf("node: gossip: %w", err)
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

// start runs the controller, the global-name watcher and the initial join.
func (c *cluster) start(ctx context.Context) error {
	c.ctl.Start()
	c.n.goTracked(c.owned.run)
	c.n.goTracked(c.owned.watchContact)
	c.n.goTracked(c.exits.run)
	if len(c.cfg.Join) > 0 {
		if _, err := c.ml.Join(ctx, c.cfg.Join); err != nil {
			// Not fatal: the rejoin loop keeps dialling the seeds.
			c.n.logger.Warn("initial join failed; retrying in the background", "seeds", c.cfg.Join, "error", err)
		}
	}
	return nil
}

// stop shuts down gossip, the controller and the table (no leave).
func (c *cluster) stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		c.ctl.Stop()
		if err := c.ml.Shutdown(); err != nil {
			c.n.logger.Warn("gossip shutdown", "error", err)
		}
		if err := c.table.Shutdown(); err != nil {
			c.n.logger.Warn("global table shutdown", "error", err)
		}
	})
}

// Budgets of Leave's steps, so that a cluster without quorum (everyone
// leaving at once, say) still leaves time for the shutdown that follows.
const (
	leavePurgeTimeout    = 5 * time.Second
	leaveTransferTimeout = 3 * time.Second
	leaveGossipTimeout   = 3 * time.Second
)

// leave purges this incarnation's names, hands Raft leadership over if it
// holds it, and announces the departure in gossip (the leader then removes
// this server from Raft). Each step is bounded; a failed step is reported
// and the next one still runs.
func (c *cluster) leave(ctx context.Context) error {
	var errs []error
	c.leaving.Store(true)
	step := func(d time.Duration, what string, fn func(context.Context) error) {
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		if err := fn(sctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	step(leavePurgeTimeout, "purge own names", func(ctx context.Context) error {
		_, err := c.table.PurgeIncarnation(ctx, c.n.id, c.n.inc, global.ReasonNodeLeft)
		return err
	})
	if c.table.IsLeader() && c.otherVoters() > 0 {
		step(leaveTransferTimeout, "transfer leadership", c.table.TransferLeadership)
	}
	step(leaveGossipTimeout, "leave gossip", c.ml.Leave)
	return errors.Join(errs...)
}

// otherVoters counts the Raft voters other than this node.
func (c *cluster) otherVoters() int {
	servers, err := c.table.Configuration()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range servers {
		if !s.Nonvoter && s.ID != c.n.id {
			n++
		}
	}
	return n
}

// rpcRouter serves the transport's RPCs: "global.*" go to the table.
type rpcRouter struct{ t *global.Table }

func (r rpcRouter) HandleRequest(ctx context.Context, from NodeID, method string, body []byte) ([]byte, error) {
	if strings.HasPrefix(method, "global.") {
		return r.t.HandleRPC(ctx, from, method, body)
	}
	return nil, fmt.Errorf("%w: %q", ErrNoHandler, method)
}

// globalNames adapts the table to the node's GlobalNames seam.
type globalNames struct{ t *global.Table }

func (g globalNames) Lookup(_ context.Context, name string) (PID, uint64, error) {
	owner, fence, ok := g.t.Resolve(name)
	if !ok {
		if err := global.ValidateName(name); err != nil {
			return PID{}, 0, err
		}
		return PID{}, 0, fmt.Errorf("%w: %q", global.ErrNotFound, name)
	}
	return owner, fence, nil
}

// purgeGrace is how long the cluster waits after a node's death before
// purging its names.
func (c *cluster) purgeGrace() time.Duration {
	if c.cfg.PurgeGrace > 0 {
		return c.cfg.PurgeGrace
	}
	return c.cfg.Profile.PurgeGrace()
}

// retryCtx bounds background writes (exit unregisters): 10 s, or until
// the cluster part stops.
func (c *cluster) retryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, 10*time.Second)
}
