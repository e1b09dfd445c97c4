package cluster

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// peer is the controller's record of one member. Owned by the loop.
type peer struct {
	meta      membership.Meta
	state     membership.State
	since     time.Time // when state began
	lastAlive time.Time // last time gossip reported it alive
	// replaced lists incarnations gossip showed replaced by a later one
	// (bounded: the last maxReplaced). Only these may be purged as
	// "restart": an incarnation the table holds but gossip never showed may
	// be a newer one gossip has not reported yet.
	replaced []uint64
}

// maxReplaced bounds peer.replaced.
const maxReplaced = 16

func (p *peer) wasReplaced(inc uint64) bool { return slices.Contains(p.replaced, inc) }

func (p *peer) markReplaced(inc uint64) {
	if p.wasReplaced(inc) {
		return
	}
	p.replaced = append(p.replaced, inc)
	if len(p.replaced) > maxReplaced {
		p.replaced = p.replaced[len(p.replaced)-maxReplaced:]
	}
}

// purgeKey names one pending purge.
type purgeKey struct {
	node node.NodeID
	inc  uint64
}

type pendingPurge struct {
	why       global.Reason
	due       time.Time
	lastAlive time.Time
}

// controller turns membership into cluster actions: it bootstraps the Raft
// cluster (bootstrap-expect), adds joining servers as voters or non-voters,
// removes long-dead voters, points the transport at peers, and — on the
// leader — purges the names of dead, departed and restarted nodes,
// conditional on their incarnation, plus a periodic reconcile.
//
// All its state is owned by one goroutine (run); the only entry points
// from other goroutines are Start and Stop.
type controller struct {
	cfg controllerConfig
	m   *membership.Membership
	log hclog.Logger
	now func() time.Time

	peers        map[node.NodeID]*peer
	pending      map[purgeKey]pendingPurge
	leader       bool
	leaderSince  time.Time
	nextRecon    time.Time
	bootstrapped bool
	serverSet    string
	serverSince  time.Time

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// tick is the controller's timer granularity.
const tick = 50 * time.Millisecond

// newController returns a controller for m. Call Start.
func newController(m *membership.Membership, cfg controllerConfig) (*controller, error) {
	c := cfg
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &controller{
		cfg:          c,
		m:            m,
		log:          c.Logger.Named("controller"),
		now:          time.Now,
		peers:        make(map[node.NodeID]*peer),
		pending:      make(map[purgeKey]pendingPurge),
		bootstrapped: c.Table.HasState(),
		stopCh:       make(chan struct{}),
	}, nil
}

// Start begins the controller's loop.
func (c *controller) Start() {
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.run() }()
}

// Stop ends the loop and waits for it. Idempotent.
func (c *controller) Stop() {
	c.stopOnce.Do(func() { close(c.stopCh) })
	c.wg.Wait()
}

func (c *controller) run() {
	now := c.now()
	for _, mem := range c.m.Members() {
		if mem.State == membership.StateAlive {
			c.onAlive(mem.Meta, now)
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case ev, ok := <-c.m.Events():
			if !ok {
				return
			}
			c.onEvent(ev)
		case <-t.C:
			c.onTick()
		}
	}
}

func (c *controller) onEvent(ev membership.Event) {
	now := c.now()
	switch ev.Type {
	case membership.EventJoin, membership.EventUpdate:
		c.onAlive(ev.Member.Meta, now)
	case membership.EventDead, membership.EventLeave:
		c.onGone(ev.Member.Meta, ev.Type == membership.EventDead, now)
	}
	c.reportMembers()
}

func (c *controller) onAlive(meta membership.Meta, now time.Time) {
	if meta.Node == c.cfg.Self {
		return
	}
	p := c.peers[meta.Node]
	if p != nil && p.meta.Incarnation != meta.Incarnation && p.state == membership.StateAlive {
		// Restarted before anyone saw it die: its old self is gone.
		c.cfg.Hooks.PeerGone(meta.Node, p.meta.Incarnation, true)
	}
	if p != nil && p.meta.Incarnation != meta.Incarnation {
		c.log.Info("node restarted with a new incarnation", "node", meta.Node,
			"old", p.meta.Incarnation, "new", meta.Incarnation)
		c.pending[purgeKey{meta.Node, p.meta.Incarnation}] = pendingPurge{
			why: global.ReasonRestart, due: now, lastAlive: p.lastAlive}
		p.markReplaced(p.meta.Incarnation)
	}
	if p != nil && p.state != membership.StateAlive && p.meta.Incarnation == meta.Incarnation {
		if _, ok := c.pending[purgeKey{meta.Node, meta.Incarnation}]; ok {
			c.log.Warn("node alive again within the purge grace; its names stay", "node", meta.Node)
		}
		delete(c.pending, purgeKey{meta.Node, meta.Incarnation})
	}
	if p == nil {
		p = &peer{}
		c.peers[meta.Node] = p
	}
	if p.state != membership.StateAlive {
		p.since = now
	}
	p.meta, p.state, p.lastAlive = meta, membership.StateAlive, now
	c.cfg.Hooks.PeerAlive(meta)
	if c.leader {
		c.ensureServer(meta)
		c.reviveIfPurged(meta.Node, meta.Incarnation)
	}
}

func (c *controller) onGone(meta membership.Meta, dead bool, now time.Time) {
	if meta.Node == c.cfg.Self {
		return
	}
	p := c.peers[meta.Node]
	if p == nil {
		p = &peer{meta: meta, lastAlive: now}
		c.peers[meta.Node] = p
	}
	if p.meta.Incarnation != meta.Incarnation {
		return // an old incarnation's death; the restart purge covers it
	}
	p.state, p.since = membership.StateLeft, now
	hint, hinted := c.transportBreak(meta.Node)
	last := p.lastAlive
	if hinted && hint.Before(last) {
		last = hint
	}
	why, due := global.ReasonNodeLeft, now
	if dead {
		// The grace counts from the first sign of trouble: gossip's verdict,
		// or earlier, a recent loss of the transport connection (an early
		// hint; gossip has confirmed by now).
		start := now
		if hinted && hint.Before(now) && now.Sub(hint) <= c.cfg.HintWindow {
			start = hint
		}
		p.state, why, due = membership.StateDead, global.ReasonNodeDown, start.Add(c.cfg.PurgeGrace)
	}
	c.log.Info("node gone", "node", meta.Node, "incarnation", meta.Incarnation, "state", p.state)
	c.cfg.Hooks.PeerGone(meta.Node, meta.Incarnation, dead)
	c.pending[purgeKey{meta.Node, meta.Incarnation}] = pendingPurge{why: why, due: due, lastAlive: last}
	if !dead && c.leader && meta.Role == membership.RoleServer {
		c.removeServer(meta.Node, "left")
	}
}

// transportBreak asks when the transport lost its connection to id.
func (c *controller) transportBreak(id node.NodeID) (time.Time, bool) {
	return c.cfg.Hooks.LastContact(id)
}

func (c *controller) reportMembers() {
	if c.cfg.Metrics.Members == nil {
		return
	}
	by := map[membership.State]int{membership.StateAlive: 1} // this node
	for _, p := range c.peers {
		by[p.state]++
	}
	c.cfg.Metrics.Members(by)
}

func (c *controller) onTick() {
	now := c.now()
	isLeader := c.cfg.Table.IsLeader()
	if isLeader && !c.leader {
		c.log.Info("gained leadership; reconciling names with membership")
		c.leaderSince, c.nextRecon = now, now
		for _, p := range c.peers {
			if p.state == membership.StateAlive {
				c.ensureServer(p.meta)
			}
		}
	}
	c.leader = isLeader
	if !c.bootstrapped {
		c.maybeBootstrap(now)
	}
	if !c.leader {
		c.dropDuePurges(now)
		return
	}
	c.runDuePurges(now)
	if !now.Before(c.nextRecon) {
		c.reconcile(now)
		c.reapDeadServers(now)
		c.nextRecon = now.Add(c.cfg.ReconcileInterval)
	}
}

// dropDuePurges forgets due purges on a follower: the leader does them, and
// a new leader's reconcile catches whatever a lost leader missed.
func (c *controller) dropDuePurges(now time.Time) {
	for k, p := range c.pending {
		if !now.Before(p.due) {
			delete(c.pending, k)
		}
	}
}
