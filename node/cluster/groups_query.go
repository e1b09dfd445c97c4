package cluster

import (
	"slices"

	"github.com/roster-dev/roster/node"
)

// GroupMembers returns group's members on every node, as this node sees
// them (available, not consistent: a change on another node shows here
// once its batch arrives), sorted by pid. The slice is shared with other
// callers and must not be modified; it is nil for a group with no members.
// It costs a map lookup: the sorted snapshot is rebuilt only after a change.
func (s *GroupScope) GroupMembers(group string) []GroupMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if g := s.groups[group]; g != nil {
		return g.members()
	}
	return nil
}

// LocalGroupMembers returns group's members on this node, sorted by pid
// (a new slice).
func (s *GroupScope) LocalGroupMembers(group string) []GroupMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.groups[group]
	if g == nil || g.nodes[s.e.self] == nil || len(g.nodes[s.e.self].members) == 0 {
		return nil
	}
	var out []GroupMember
	for _, m := range g.members() {
		if m.PID.Node == s.e.self {
			out = append(out, m)
		}
	}
	return out
}

// GroupMembersLimit returns at most limit members of group (all when
// limit <= 0), sorted by pid, and whether more remain.
func (s *GroupScope) GroupMembersLimit(group string, limit int) ([]GroupMember, bool) {
	all := s.GroupMembers(group)
	if limit > 0 && len(all) > limit {
		return slices.Clone(all[:limit]), true
	}
	return slices.Clone(all), false
}

// GroupMemberCount returns how many processes are members of group.
func (s *GroupScope) GroupMemberCount(group string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if g := s.groups[group]; g != nil {
		return g.count
	}
	return 0
}

// GroupInfo describes one group: its name, its members on every node and
// on this one.
type GroupInfo struct {
	Name    string
	Members int
	Local   int
}

// ListGroups lists the groups that have members anywhere, sorted by name,
// whose names start with prefix and sort after `after` (exclusive; "" for
// the start), at most limit of them (all when limit <= 0), and whether
// more remain.
func (s *GroupScope) ListGroups(prefix, after string, limit int) ([]GroupInfo, bool) {
	s.mu.RLock()
	out := make([]GroupInfo, 0, min(len(s.groups), max(limit, 0)+1))
	for name, g := range s.groups {
		if g.count == 0 || !groupHasPrefix(name, prefix) || (after != "" && name <= after) {
			continue
		}
		gi := GroupInfo{Name: name, Members: g.count}
		if ns := g.nodes[s.e.self]; ns != nil {
			gi.Local = len(ns.members)
		}
		out = append(out, gi)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b GroupInfo) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	if limit > 0 && len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// GroupEntry is a member of a named group.
type GroupEntry struct {
	Group string
	GroupMember
}

// GroupMembersByPrefix returns the members of every group whose name
// starts with prefix, sorted by group then pid, at most limit of them (all
// when limit <= 0), and whether more remain.
func (s *GroupScope) GroupMembersByPrefix(prefix string, limit int) ([]GroupEntry, bool) {
	infos, _ := s.ListGroups(prefix, "", 0)
	var out []GroupEntry
	for _, gi := range infos {
		for _, m := range s.GroupMembers(gi.Name) {
			if limit > 0 && len(out) == limit {
				return out, true
			}
			out = append(out, GroupEntry{Group: gi.Name, GroupMember: m})
		}
	}
	return out, false
}

// GroupStats counts a scope's contents.
type GroupStats struct {
	Groups        int // groups with members anywhere
	LocalMembers  int // (group, pid) memberships of this node's processes
	RemoteMembers int // memberships of other nodes' processes, as seen here
	Peers         int // peers with a synced view
}

// Stats counts the scope's groups and members.
func (s *GroupScope) Stats() GroupStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := GroupStats{LocalMembers: s.local.count, RemoteMembers: s.remote}
	for _, g := range s.groups {
		if g.count > 0 {
			st.Groups++
		}
	}
	for _, v := range s.views {
		if v.seq != 0 {
			st.Peers++
		}
	}
	return st
}

// isMember reports whether pid is a member of group in this view.
func (s *GroupScope) isMember(group string, pid node.PID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.groups[group]
	if g == nil {
		return false
	}
	ns := g.nodes[pid.Node]
	if ns == nil || ns.inc != pid.Incarnation {
		return false
	}
	_, ok := ns.members[pid.Serial]
	return ok
}
