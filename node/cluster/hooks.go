package cluster

import (
	"context"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// tableAdapter presents the global table to the membership controller.
type tableAdapter struct{ t *global.Table }

var _ membership.Table = tableAdapter{}

func (a tableAdapter) HasState() bool { return a.t.HasState() }
func (a tableAdapter) IsLeader() bool { return a.t.IsLeader() }

func (a tableAdapter) Bootstrap(servers []membership.Server) error {
	out := make([]global.Server, len(servers))
	for i, s := range servers {
		out[i] = global.Server{ID: s.ID, Address: s.Address, Nonvoter: !s.Voter}
	}
	return a.t.Bootstrap(out)
}

func (a tableAdapter) Servers() ([]membership.Server, error) {
	cfg, err := a.t.Configuration()
	if err != nil {
		return nil, err
	}
	out := make([]membership.Server, len(cfg))
	for i, s := range cfg {
		out[i] = membership.Server{ID: s.ID, Address: s.Address, Voter: !s.Nonvoter}
	}
	return out, nil
}

func (a tableAdapter) AddVoter(ctx context.Context, id transport.NodeID, addr string) error {
	return a.t.AddVoter(ctx, id, addr)
}

func (a tableAdapter) AddNonvoter(ctx context.Context, id transport.NodeID, addr string) error {
	return a.t.AddNonvoter(ctx, id, addr)
}

func (a tableAdapter) RemoveServer(ctx context.Context, id transport.NodeID) error {
	return a.t.RemoveServer(ctx, id, "")
}

func (a tableAdapter) PurgeIncarnation(ctx context.Context, node transport.NodeID, inc uint64, why membership.PurgeReason) (int, error) {
	return a.t.PurgeIncarnation(ctx, node, inc, global.Reason(why))
}

func (a tableAdapter) PurgeNodeExcept(ctx context.Context, node transport.NodeID, keep uint64, why membership.PurgeReason) (int, error) {
	return a.t.PurgeNodeExcept(ctx, node, keep, global.Reason(why))
}

// Owners scans the local replica for the (node, incarnation) pairs that
// own names. It runs on the leader once per reconcile interval.
func (a tableAdapter) Owners() map[transport.NodeID][]uint64 {
	regs, _, err := a.t.List("")
	if err != nil {
		return nil
	}
	seen := make(map[[2]any]bool)
	out := make(map[transport.NodeID][]uint64)
	for _, r := range regs {
		k := [2]any{r.Owner.Node, r.Owner.Incarnation}
		if !seen[k] {
			seen[k] = true
			out[r.Owner.Node] = append(out[r.Owner.Node], r.Owner.Incarnation)
		}
	}
	return out
}

func (a tableAdapter) IsPurged(node transport.NodeID, inc uint64) bool {
	return a.t.IsPurged(node, inc)
}

func (a tableAdapter) Revive(ctx context.Context, node transport.NodeID, inc uint64) error {
	_, err := a.t.ReviveIncarnation(ctx, node, inc)
	return err
}

// clusterHooks points the transport at peers and fires DOWN for the
// processes of nodes that are gone.
type clusterHooks struct{ c *cluster }

func (h clusterHooks) PeerAlive(meta membership.Meta) {
	h.c.links.up(meta.Node) // gossip hears it: an old transport break is no hint
	if meta.Transport == "" {
		return
	}
	h.c.n.tr.SetPeer(meta.Node, meta.Transport, meta.Incarnation)
}

func (h clusterHooks) PeerGone(id transport.NodeID, inc uint64, dead bool) {
	h.c.n.NodeDown(id, inc)
	h.c.n.tr.RemovePeer(id)
}
