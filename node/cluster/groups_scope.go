package cluster

import (
	"strings"
	"sync"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// GroupScope is one overlay of process groups. All methods are safe for
// concurrent use. Get one from the Node (GroupScope, or the default scope's
// methods on the Node itself).
type GroupScope struct {
	name string
	idx  int // index of this scope in each groupLink's per-scope state
	e    *groupEngine

	mu     sync.RWMutex
	closed bool
	groups map[string]*groupState
	owners map[uint64]*groupOwner // local processes with memberships, by serial
	local  groupDigest            // this node's memberships
	remote int                    // memberships of other nodes
	views  map[node.NodeID]*groupView
	peers  map[node.NodeID]uint64 // live peers' incarnations, as membership says
	links  map[node.NodeID]*groupLink
	mons   map[*GroupMonitor]struct{}
	// empties counts groups that became empty since the last sweep: empty
	// groups are kept (a join right after a leave allocates nothing) until
	// there are more than groupSweepMin of them and they are at least half
	// of all groups, so they never outnumber live ones by much.
	empties int
}

// groupSweepMin is the number of empty groups a scope keeps before it
// sweeps them.
const groupSweepMin = 1024

// groupOwner is a local process with memberships in a scope.
type groupOwner struct{ groups map[string]struct{} }

// groupView is this node's picture of one peer's members of a scope.
type groupView struct {
	inc     uint64
	seq     uint64         // last accepted frame's sequence number
	groups  map[string]int // the peer's member count per group
	digest  groupDigest
	staging *groupStaging // a full sync being received
}

func newGroupScope(e *groupEngine, name string, idx int) *GroupScope {
	return &GroupScope{
		name: name, idx: idx, e: e,
		groups: make(map[string]*groupState),
		owners: make(map[uint64]*groupOwner),
		views:  make(map[node.NodeID]*groupView),
		peers:  make(map[node.NodeID]uint64),
		links:  make(map[node.NodeID]*groupLink),
		mons:   make(map[*GroupMonitor]struct{}),
	}
}

// Name returns the scope's name.
func (s *GroupScope) Name() string { return s.name }

// group returns the state of name, creating it.
func (s *GroupScope) group(name string) *groupState {
	g := s.groups[name]
	if g == nil {
		g = &groupState{nodes: make(map[node.NodeID]*groupNodeSet)}
		s.groups[name] = g
	}
	return g
}

// forget notes that group name may have become empty, and sweeps the
// empty groups once there are enough of them.
func (s *GroupScope) forget(name string, g *groupState) {
	if g.count != 0 {
		return
	}
	s.empties++
	if s.empties <= groupSweepMin || 2*s.empties < len(s.groups) {
		return
	}
	for n, g := range s.groups {
		if g.count == 0 {
			delete(s.groups, n)
		}
	}
	s.empties = 0
}

// localSet records a local membership change (count 0: removal), queues it
// for every peer and tells the monitors. Called with s.mu held.
func (s *GroupScope) localSet(group string, pid node.PID, r groupRec, why GroupReason, exit error) {
	g := s.group(group)
	var old groupRec
	var had bool
	if r.count == 0 {
		old, had = g.remove(pid.Node, pid.Serial)
		s.forget(group, g)
	} else {
		old, had = g.set(pid.Node, pid.Incarnation, pid.Serial, r)
	}
	if had {
		s.local.sub(group, pid.Serial, old)
	}
	if r.count > 0 {
		s.local.add(group, pid.Serial, r)
	}
	op := groupOp{Group: group, Serial: pid.Serial, Count: r.count, Meta: r.meta}
	if r.count == 0 {
		op.Why = string(why)
		if exit != nil {
			op.Exit = node.ReasonToWire(exit)
		}
	}
	for _, l := range s.links {
		l.queue(s.idx, op)
	}
	s.notify(group, pid, old, had, r, why, exit)
}

// remoteSet applies one change of peer id's members. Called with s.mu held.
func (s *GroupScope) remoteSet(id node.NodeID, v *groupView, op groupOp, why GroupReason) {
	pid := node.PID{Node: id, Incarnation: v.inc, Serial: op.Serial}
	r := groupRec{meta: op.Meta, count: op.Count}
	var exit error
	if op.Count == 0 && op.Why != "" {
		why = GroupReason(op.Why)
		if why == GroupProcessExit {
			exit = node.ReasonFromWire(op.Exit)
		}
	}
	g := s.group(op.Group)
	var old groupRec
	var had bool
	if r.count == 0 {
		old, had = g.remove(id, op.Serial)
		g.dropEmpty(id) // a later incarnation must not inherit the set
		s.forget(op.Group, g)
	} else {
		old, had = g.set(id, v.inc, op.Serial, r)
	}
	if had {
		v.digest.sub(op.Group, op.Serial, old)
		s.remote--
		if v.groups[op.Group]--; v.groups[op.Group] == 0 {
			delete(v.groups, op.Group)
		}
	}
	if r.count > 0 {
		v.digest.add(op.Group, op.Serial, r)
		s.remote++
		v.groups[op.Group]++
	}
	s.notify(op.Group, pid, old, had, r, why, exit)
}

// dropView removes every member of peer id from this scope's view, with
// reason. Called with s.mu held.
func (s *GroupScope) dropView(id node.NodeID, why GroupReason) {
	v := s.views[id]
	if v == nil {
		return
	}
	delete(s.views, id)
	for name := range v.groups {
		g := s.groups[name]
		if g == nil {
			continue
		}
		ns := g.nodes[id]
		if ns == nil {
			continue
		}
		for serial, r := range ns.members {
			g.remove(id, serial)
			s.remote--
			s.notify(name, node.PID{Node: id, Incarnation: ns.inc, Serial: serial}, r, true, groupRec{}, why, nil)
		}
		g.dropEmpty(id)
		s.forget(name, g)
	}
}

// notify tells the monitors about one change.
func (s *GroupScope) notify(group string, pid node.PID, old groupRec, had bool, r groupRec, why GroupReason, exit error) {
	if len(s.mons) == 0 {
		return
	}
	ev := GroupEvent{Scope: s.name, Group: group, Member: GroupMember{PID: pid, Meta: r.meta, Count: r.count}}
	switch {
	case r.count == 0 && had:
		ev.Kind, ev.Reason, ev.ExitReason = GroupLeft, why, exit
		ev.Member.Meta, ev.Member.Count = old.meta, old.count
	case r.count > 0 && !had:
		ev.Kind = GroupJoined
	case r.count > 0 && !sameGroupRec(old, r):
		ev.Kind = GroupUpdated
	default:
		return
	}
	for m := range s.mons {
		if m.matches(group) && !m.offer(ev) {
			delete(s.mons, m)
		}
	}
}

// peerAlive records that membership knows peer id at incarnation inc and
// installs the link to it. A view of another incarnation goes (node_down).
func (s *GroupScope) peerAlive(id node.NodeID, inc uint64, l *groupLink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.views[id]; v != nil && v.inc != inc {
		s.dropView(id, GroupNodeDown)
	}
	s.peers[id] = inc
	s.links[id] = l
}

// peerGone forgets peer id and its members.
func (s *GroupScope) peerGone(id node.NodeID, why GroupReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.peers, id)
	delete(s.links, id)
	s.dropView(id, why)
}

// hasView reports whether this node holds a synced view of peer id.
func (s *GroupScope) hasView(id node.NodeID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.views[id]
	return v != nil && v.seq != 0
}

// groupHasPrefix reports whether name starts with prefix.
func groupHasPrefix(name, prefix string) bool { return strings.HasPrefix(name, prefix) }

// groupWireReason is an exit reason on the wire (transport's form).
type groupWireReason = transport.Reason
