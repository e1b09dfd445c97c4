package cluster

import (
	"context"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

func (c *controller) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.cfg.Timeout)
}

// runDuePurges applies the purges whose grace has passed. A failed purge is
// retried a second later.
func (c *controller) runDuePurges(now time.Time) {
	for k, p := range c.pending {
		if now.Before(p.due) {
			continue
		}
		if until, held := c.leaseHeld(k.node, p.why, now); held {
			p.due = until
			c.pending[k] = p
			continue
		}
		if err := c.purge(k, p, now); err != nil {
			c.log.Warn("purge failed; will retry", "node", k.node, "incarnation", k.inc, "error", err)
			p.due = now.Add(time.Second)
			c.pending[k] = p
			continue
		}
		delete(c.pending, k)
	}
}

// leaseHeld reports whether node's lease may still run (until when): a
// dead node's names wait for it, so that its singletons and leaderships
// have stopped before anyone else may take their names. Departures and
// restarts do not wait: the node stopped that work before leaving, and a
// restarted process has none of its old work left.
func (c *controller) leaseHeld(node node.NodeID, why global.Reason, now time.Time) (time.Time, bool) {
	if why != global.ReasonNodeDown || c.cfg.LeaseWait <= 0 {
		return time.Time{}, false
	}
	g, ok := c.cfg.Table.LastLeaseGrant(node)
	if !ok {
		return time.Time{}, false
	}
	until := g.Add(c.cfg.LeaseWait)
	return until, now.Before(until)
}

func (c *controller) purge(k purgeKey, p pendingPurge, now time.Time) error {
	ctx, cancel := c.ctx()
	defer cancel()
	// Always one incarnation: "all but the live one" would also take an
	// incarnation newer than gossip's view (a restart gossip has not
	// reported yet). A node purges its own older incarnations itself
	// (purgeOwnPast), which covers those no gossip ever showed.
	n, err := c.cfg.Table.PurgeIncarnation(ctx, k.node, k.inc, p.why)
	if err != nil {
		return err
	}
	since := now.Sub(p.lastAlive)
	c.log.Info("purged names", "node", k.node, "incarnation", k.inc, "reason", p.why,
		"names", n, "since_last_contact", since)
	if c.cfg.Metrics.Purged != nil {
		c.cfg.Metrics.Purged(p.why, n, since)
	}
	return nil
}

// reviveIfPurged lets an incarnation that was purged while it was only cut
// off (a pause, a partition longer than the grace) register again now
// that gossip shows it alive. Its purged names stay gone.
func (c *controller) reviveIfPurged(node node.NodeID, inc uint64) {
	if !c.cfg.Table.IsPurged(node, inc) {
		return
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if _, err := c.cfg.Table.ReviveIncarnation(ctx, node, inc); err != nil {
		c.log.Warn("cannot revive a purged incarnation that is alive", "node", node, "incarnation", inc, "error", err)
		return
	}
	c.log.Info("revived an incarnation purged while unreachable", "node", node, "incarnation", inc)
}

// reconcile compares the owners in the name table with membership and
// purges what events missed: incarnations that are not a node's live one,
// nodes dead or gone longer than the grace, and — once this leader has
// had ReconcileGrace to hear gossip — nodes nobody has seen at all.
func (c *controller) reconcile(now time.Time) {
	self := c.m.Meta()
	c.ensureServer(self) // a leader restarted at a new address
	c.reviveIfPurged(self.Node, self.Incarnation)
	for _, p := range c.peers {
		if p.state == membership.StateAlive {
			// Retry what an event may have missed: a Raft configuration
			// change that failed (one at a time), or an event handled
			// just before this node became leader.
			c.ensureServer(p.meta)
			c.reviveIfPurged(p.meta.Node, p.meta.Incarnation)
		}
	}
	for node, incs := range c.cfg.Table.Owners() {
		for _, inc := range incs {
			k := purgeKey{node, inc}
			why, ok := c.staleOwner(node, inc, self, now)
			if !ok {
				continue
			}
			if _, held := c.leaseHeld(node, why, now); held {
				continue // the next reconcile, or the pending purge, takes it
			}
			p := pendingPurge{why: why, lastAlive: now}
			if pr := c.peers[node]; pr != nil {
				p.lastAlive = pr.lastAlive
			}
			if err := c.purge(k, p, now); err != nil {
				c.log.Warn("reconcile purge failed", "node", node, "incarnation", inc, "error", err)
				continue
			}
			delete(c.pending, k)
		}
	}
}

// staleOwner says whether names of (node, inc) should go, and why. An
// incarnation is purged only on evidence about that incarnation: gossip
// showed it dead, departed or replaced, or (for one gossip never showed)
// the node has been dead or gone for UnseenGrace. One gossip never showed
// while the node is alive is left alone: it may be a restart gossip has
// not reported yet, and a node purges its own past incarnations itself
// (purgeOwnPast).
func (c *controller) staleOwner(node node.NodeID, inc uint64, self membership.Meta, now time.Time) (global.Reason, bool) {
	if node == self.Node {
		return global.ReasonRestart, inc != self.Incarnation
	}
	p := c.peers[node]
	switch {
	case p == nil:
		return global.ReasonNodeDown, now.Sub(c.leaderSince) >= c.cfg.ReconcileGrace
	case inc == p.meta.Incarnation:
		switch p.state {
		case membership.StateAlive:
			return "", false
		case membership.StateLeft:
			return global.ReasonNodeLeft, true
		}
		return global.ReasonNodeDown, now.Sub(p.since) >= c.cfg.PurgeGrace
	case p.wasReplaced(inc):
		return global.ReasonRestart, true
	case p.state == membership.StateAlive:
		return "", false
	}
	return global.ReasonNodeDown, now.Sub(p.since) >= max(c.cfg.PurgeGrace, c.cfg.UnseenGrace)
}

// ensureServer adds an alive server to the Raft configuration: as a voter
// while there are fewer than Expect voters, else as a non-voter. A server
// whose Raft address changed (restarted elsewhere) is updated in place and
// keeps its suffrage; that includes the leader itself.
func (c *controller) ensureServer(meta membership.Meta) {
	if meta.Role != membership.RoleServer || meta.Raft == "" {
		return
	}
	servers, err := c.cfg.Table.Configuration()
	if err != nil {
		c.log.Warn("cannot read raft configuration", "error", err)
		return
	}
	voters, known, wasVoter := 0, false, false
	for _, s := range servers {
		if !s.Nonvoter {
			voters++
		}
		if s.ID == meta.Node {
			if s.Address == meta.Raft {
				return
			}
			known, wasVoter = true, !s.Nonvoter
		}
	}
	voter := wasVoter || (!known && voters < max(c.cfg.Expect, 1))
	ctx, cancel := c.ctx()
	defer cancel()
	if voter {
		err = c.cfg.Table.AddVoter(ctx, meta.Node, meta.Raft)
	} else {
		err = c.cfg.Table.AddNonvoter(ctx, meta.Node, meta.Raft)
	}
	if err != nil {
		c.log.Warn("cannot add server", "node", meta.Node, "error", err)
		return
	}
	c.log.Info("raft configuration updated", "node", meta.Node, "addr", meta.Raft, "voter", voter, "moved", known)
}

func (c *controller) removeServer(id node.NodeID, why string) {
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.cfg.Table.RemoveServer(ctx, id, ""); err != nil {
		c.log.Warn("cannot remove server", "node", id, "why", why, "error", err)
		return
	}
	c.log.Info("removed server from raft", "node", id, "why", why)
}

// reapDeadServers removes voters dead for longer than DeadServerGrace, one
// at a time and only while the remaining voters keep a quorum alive, then
// promotes an alive non-voter if voters fell below Expect.
func (c *controller) reapDeadServers(now time.Time) {
	servers, err := c.cfg.Table.Configuration()
	if err != nil {
		return
	}
	var voters, alive int
	var victim node.NodeID
	for _, s := range servers {
		if s.Nonvoter {
			continue
		}
		voters++
		p := c.peers[s.ID]
		if s.ID == c.cfg.Self || (p != nil && p.state == membership.StateAlive) {
			alive++
			continue
		}
		if p != nil && p.state == membership.StateLeft {
			victim = s.ID
		} else if p != nil && now.Sub(p.since) >= c.cfg.DeadServerGrace && victim == "" {
			victim = s.ID
		}
	}
	if victim != "" && alive >= (voters-1)/2+1 {
		c.removeServer(victim, "dead longer than the grace")
		voters--
	}
	if voters >= c.cfg.Expect {
		return
	}
	for _, s := range servers {
		if p := c.peers[s.ID]; s.Nonvoter && p != nil && p.state == membership.StateAlive {
			ctx, cancel := c.ctx()
			err := c.cfg.Table.AddVoter(ctx, s.ID, s.Address)
			cancel()
			if err == nil {
				c.log.Info("promoted non-voter", "node", s.ID)
			}
			return
		}
	}
}

// maybeBootstrap implements bootstrap-expect: when Expect servers with the
// same expectation are alive in gossip, none has Raft state, this node is
// among the Expect lowest ids, and that set has been stable for
// SettleTime, bootstrap with exactly that set as voters.
func (c *controller) maybeBootstrap(now time.Time) {
	if c.cfg.Expect == 0 {
		return
	}
	if c.cfg.Table.HasState() {
		c.markBootstrapped(c.m.Meta().Boot)
		return
	}
	self := c.m.Meta()
	cands := []membership.Meta{self}
	var booted []membership.Meta
	for _, p := range c.peers {
		if p.state != membership.StateAlive || p.meta.Role != membership.RoleServer {
			continue
		}
		if p.meta.HasState {
			booted = append(booted, p.meta)
		}
		if p.meta.Expect != c.cfg.Expect {
			c.log.Warn("server expects a different cluster size; ignoring it",
				"node", p.meta.Node, "its_expect", p.meta.Expect, "ours", c.cfg.Expect)
			continue
		}
		cands = append(cands, p.meta)
	}
	if len(cands) < c.cfg.Expect {
		return
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Node < cands[j].Node })
	cands = cands[:c.cfg.Expect]
	ids := make([]string, len(cands))
	inSet := false
	for i, m := range cands {
		ids[i] = string(m.Node)
		inSet = inSet || m.Node == self.Node
	}
	key := strings.Join(ids, ",")
	for _, b := range booted {
		// A peer with state that bootstrapped this very set lets us follow
		// at once; any other state means a cluster exists whose leader
		// will add us.
		if b.Boot != bootHash(key) {
			return
		}
		c.serverSince = now.Add(-c.cfg.SettleTime)
	}
	if key != c.serverSet {
		c.serverSet, c.serverSince = key, now
		return
	}
	if !inSet || now.Sub(c.serverSince) < c.cfg.SettleTime {
		return
	}
	servers := make([]global.Server, len(cands))
	for i, m := range cands {
		servers[i] = global.Server{ID: m.Node, Address: m.Raft}
	}
	if err := c.cfg.Table.Bootstrap(servers); err != nil {
		c.log.Error("bootstrap failed", "servers", key, "error", err)
		return
	}
	c.log.Info("bootstrapped raft cluster", "servers", key)
	c.markBootstrapped(bootHash(key))
}

// bootHash is a short digest of a bootstrap server set.
func bootHash(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return strconv.FormatUint(h.Sum64(), 36)
}

func (c *controller) markBootstrapped(boot string) {
	c.bootstrapped = true
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.m.UpdateMeta(ctx, func(m *membership.Meta) { m.HasState, m.Boot = true, boot }); err != nil {
		c.log.Warn("cannot publish raft state flag", "error", err)
	}
}
