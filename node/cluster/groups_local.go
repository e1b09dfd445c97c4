package cluster

import (
	"fmt"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
)

var _ local.ExitListener[node.PID] = (*GroupScope)(nil)

// checkLocal validates a join's arguments.
func (s *GroupScope) checkLocal(group string, pid node.PID) error {
	if err := ValidateGroupName(group); err != nil {
		return err
	}
	if pid.Node != s.e.self || pid.Incarnation != s.e.inc || pid.Serial == 0 {
		return fmt.Errorf("%w: %s", ErrGroupNotLocal, pid)
	}
	return nil
}

// JoinGroup adds the local process pid to group with meta (nil for none).
// A pid may join a group several times: each join counts, and it takes as
// many LeaveGroup calls to leave; a later join's meta replaces the
// earlier's. The membership goes when the process exits. It fails with
// ErrGroupNotLocal for a pid of another node or incarnation, with an error
// wrapping node.ErrNoProc for a dead pid, and with a name or meta error.
// The change reaches peers asynchronously (batched).
func (s *GroupScope) JoinGroup(group string, pid node.PID, meta []byte) error {
	if err := s.checkLocal(group, pid); err != nil {
		return err
	}
	if err := validateGroupMeta(meta); err != nil {
		return err
	}
	meta = groupCloneBytes(meta)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrGroupClosed
	}
	if o := s.owners[pid.Serial]; o != nil {
		s.joinLocked(o, group, pid, meta)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// First membership of pid in this scope: ask for its exit, outside our
	// lock (the runtime may call OwnerExited from Attach).
	if err := s.e.rt.Attach(pid, s); err != nil {
		return fmt.Errorf("cluster: join %q: %w", group, err)
	}
	s.mu.Lock()
	if o := s.owners[pid.Serial]; o != nil { // a concurrent join won
		s.joinLocked(o, group, pid, meta)
		s.mu.Unlock()
		s.e.rt.Detach(pid, s) // the runtime counts attaches: drop ours
		return nil
	}
	// The process may have died between Attach and here, its exit already
	// delivered to an owner that did not exist yet.
	if s.closed || !s.e.rt.Alive(pid) {
		closed := s.closed
		s.mu.Unlock()
		s.e.rt.Detach(pid, s)
		if closed {
			return ErrGroupClosed
		}
		return fmt.Errorf("cluster: join %q: %w: %s", group, node.ErrNoProc, pid)
	}
	o := &groupOwner{groups: make(map[string]struct{}, 1)}
	s.owners[pid.Serial] = o
	s.joinLocked(o, group, pid, meta)
	s.mu.Unlock()
	return nil
}

func (s *GroupScope) joinLocked(o *groupOwner, group string, pid node.PID, meta []byte) {
	r := groupRec{meta: meta, count: 1}
	if g := s.groups[group]; g != nil {
		if ns := g.nodes[pid.Node]; ns != nil {
			if old, ok := ns.members[pid.Serial]; ok {
				r.count = old.count + 1
			}
		}
	}
	o.groups[group] = struct{}{}
	s.localSet(group, pid, r, "", nil)
}

// LeaveGroup undoes one JoinGroup of pid to group (ErrGroupNotMember if
// pid is not a member). The member goes when its count reaches zero.
func (s *GroupScope) LeaveGroup(group string, pid node.PID) error {
	if err := s.checkLocal(group, pid); err != nil {
		return err
	}
	s.mu.Lock()
	r, ok := s.localRec(group, pid)
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s in %q", ErrGroupNotMember, pid, group)
	}
	r.count--
	if r.count == 0 {
		// The owner record (and the runtime's exit listener) stays until the
		// process exits, so a join after a leave costs no Attach: one
		// record per live local process that ever joined.
		r.meta = nil
		delete(s.owners[pid.Serial].groups, group)
	}
	s.localSet(group, pid, r, GroupLeave, nil)
	s.mu.Unlock()
	return nil
}

// UpdateGroupMeta replaces pid's metadata in group (ErrGroupNotMember if
// it is not a member); monitors see a GroupUpdated event.
func (s *GroupScope) UpdateGroupMeta(group string, pid node.PID, meta []byte) error {
	if err := s.checkLocal(group, pid); err != nil {
		return err
	}
	if err := validateGroupMeta(meta); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.localRec(group, pid)
	if !ok {
		return fmt.Errorf("%w: %s in %q", ErrGroupNotMember, pid, group)
	}
	r.meta = groupCloneBytes(meta)
	s.localSet(group, pid, r, "", nil)
	return nil
}

// localRec returns a local member's record. Called with s.mu held.
func (s *GroupScope) localRec(group string, pid node.PID) (groupRec, bool) {
	g := s.groups[group]
	if g == nil {
		return groupRec{}, false
	}
	ns := g.nodes[pid.Node]
	if ns == nil {
		return groupRec{}, false
	}
	r, ok := ns.members[pid.Serial]
	return r, ok
}

// OwnerExited implements local.ExitListener: the runtime calls it once
// when a process with memberships in this scope exits. Its memberships go
// with reason process_exit.
func (s *GroupScope) OwnerExited(pid node.PID, reason error) {
	if reason == nil {
		reason = node.Normal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[pid.Serial]
	if o == nil || pid.Incarnation != s.e.inc {
		return
	}
	delete(s.owners, pid.Serial)
	for group := range o.groups {
		s.localSet(group, pid, groupRec{}, GroupProcessExit, reason)
	}
}

func groupCloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
