package cluster

import (
	"hash/fnv"
	"slices"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/membership"
)

// placementRank is this node's position in spec's claim order among the
// alive eligible members (0 first). A node that is not eligible, or not in
// gossip's view, ranks last.
func (n *Node) placementRank(spec SingletonSpec) int {
	var cands []membership.Member
	for _, m := range n.Members() {
		if m.State == membership.StateAlive && (spec.Eligible == nil || spec.Eligible(m)) {
			cands = append(cands, m)
		}
	}
	if spec.Placement == PlaceAny {
		return 0
	}
	load := map[node.NodeID]int{}
	if spec.Placement == PlaceLeastLoaded {
		for _, m := range cands {
			load[m.Meta.Node] = len(n.table.ByNode(m.Meta.Node))
		}
	}
	slices.SortFunc(cands, func(a, b membership.Member) int {
		if la, lb := load[a.Meta.Node], load[b.Meta.Node]; la != lb {
			return la - lb
		}
		ha, hb := rendezvous(spec.Name, a.Meta.Node), rendezvous(spec.Name, b.Meta.Node)
		switch {
		case ha > hb:
			return -1
		case ha < hb:
			return 1
		}
		return 0
	})
	for i, m := range cands {
		if m.Meta.Node == n.ID() {
			return i
		}
	}
	return len(cands)
}

// rendezvous is the highest-random-weight score of (name, node).
func rendezvous(name string, id node.NodeID) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	x := h.Sum64()
	// fnv's low bits mix poorly for near-identical inputs: finish with a
	// 64-bit mixer (splitmix64).
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
