package cluster

import (
	"bytes"
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/roster-dev/roster/node"
)

// groupRec is one member's record in a view: its metadata and join count.
type groupRec struct {
	meta  []byte
	count int
}

// groupNodeSet holds one node's members of one group, by pid serial (the
// node's incarnation is the view's).
type groupNodeSet struct {
	inc     uint64
	members map[uint64]groupRec
}

// groupState is one group of a scope: its members on every node, and a
// cached sorted snapshot that readers share.
type groupState struct {
	nodes map[node.NodeID]*groupNodeSet
	count int // member pids, all nodes
	snap  atomic.Pointer[[]GroupMember]
}

// set stores (or replaces) a member and returns the previous record.
func (g *groupState) set(id node.NodeID, inc, serial uint64, r groupRec) (groupRec, bool) {
	ns := g.nodes[id]
	if ns == nil || (ns.inc != inc && len(ns.members) == 0) {
		ns = &groupNodeSet{inc: inc, members: make(map[uint64]groupRec)}
		g.nodes[id] = ns
	}
	old, had := ns.members[serial]
	ns.members[serial] = r
	if !had {
		g.count++
	}
	g.snap.Store(nil)
	return old, had
}

// remove deletes a member and returns its record. The node's (empty) set
// stays: callers drop the sets of remote nodes (dropEmpty).
func (g *groupState) remove(id node.NodeID, serial uint64) (groupRec, bool) {
	ns := g.nodes[id]
	if ns == nil {
		return groupRec{}, false
	}
	old, had := ns.members[serial]
	if !had {
		return groupRec{}, false
	}
	delete(ns.members, serial)
	g.count--
	g.snap.Store(nil)
	return old, true
}

// dropEmpty deletes node id's set if it has no members.
func (g *groupState) dropEmpty(id node.NodeID) {
	if ns := g.nodes[id]; ns != nil && len(ns.members) == 0 {
		delete(g.nodes, id)
	}
}

// members returns the shared sorted snapshot, building it if a change
// invalidated it. Callers hold the scope's lock (read is enough).
func (g *groupState) members() []GroupMember {
	if p := g.snap.Load(); p != nil {
		return *p
	}
	if g.count == 0 {
		return nil
	}
	out := make([]GroupMember, 0, g.count)
	for id, ns := range g.nodes {
		for serial, r := range ns.members {
			out = append(out, GroupMember{PID: node.PID{Node: id, Incarnation: ns.inc, Serial: serial}, Meta: r.meta, Count: r.count})
		}
	}
	slices.SortFunc(out, func(a, b GroupMember) int { return groupComparePID(a.PID, b.PID) })
	g.snap.Store(&out)
	return out
}

func groupComparePID(a, b node.PID) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Incarnation, b.Incarnation); c != 0 {
		return c
	}
	return cmp.Compare(a.Serial, b.Serial)
}

// groupHash is the digest contribution of one member: FNV-1a over the
// group, serial, count and meta. Digests are the XOR of their members'
// hashes, so they update in O(1) per change and two nodes compute the same
// value for the same members.
func groupHash(group string, serial uint64, r groupRec) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(group); i++ {
		h = (h ^ uint64(group[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for _, v := range [2]uint64{serial, uint64(r.count)} {
		for i := 0; i < 8; i++ {
			h = (h ^ (v & 0xff)) * prime
			v >>= 8
		}
	}
	for _, c := range r.meta {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// groupDigest summarises one node's members of a scope.
type groupDigest struct {
	count int    // (group, pid) memberships
	hash  uint64 // XOR of groupHash over them
}

func (d *groupDigest) add(group string, serial uint64, r groupRec) {
	d.count++
	d.hash ^= groupHash(group, serial, r)
}

func (d *groupDigest) sub(group string, serial uint64, r groupRec) {
	d.count--
	d.hash ^= groupHash(group, serial, r)
}

func sameGroupRec(a, b groupRec) bool { return a.count == b.count && bytes.Equal(a.meta, b.meta) }
