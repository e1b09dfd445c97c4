package cluster

import (
	"fmt"

	"github.com/roster-dev/roster/node"
)

// groupStaging is a full sync being received: its chunks so far.
type groupStaging struct {
	seq  uint64
	next int
	ops  []groupOp
}

// checkPeer admits a frame only from a peer membership knows alive, at the
// incarnation membership knows, meant for this incarnation. Called with
// s.mu held.
func (s *GroupScope) checkPeer(from node.NodeID, h *groupHeader) error {
	known, ok := s.peers[from]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrGroupUnknownPeer, from)
	case known != h.FromInc:
		return fmt.Errorf("%w: %s incarnation %d, membership knows %d", ErrGroupStaleIncarnation, from, h.FromInc, known)
	case h.ToInc != s.e.inc:
		return fmt.Errorf("%w: frame for incarnation %d of this node, which is %d", ErrGroupStaleIncarnation, h.ToInc, s.e.inc)
	}
	return nil
}

// validateGroupOps checks a peer's ops before any is applied, so a bad frame
// changes nothing.
func validateGroupOps(ops []groupOp, sync bool) error {
	for i := range ops {
		op := &ops[i]
		if err := ValidateGroupName(op.Group); err != nil {
			return fmt.Errorf("%w: op %d: %w", ErrGroupBadFrame, i, err)
		}
		if err := validateGroupMeta(op.Meta); err != nil {
			return fmt.Errorf("%w: op %d: %w", ErrGroupBadFrame, i, err)
		}
		if op.Serial == 0 || op.Count < 0 || (sync && op.Count == 0) {
			return fmt.Errorf("%w: op %d: serial %d count %d", ErrGroupBadFrame, i, op.Serial, op.Count)
		}
	}
	return nil
}

// acceptSync takes one chunk of a peer's full sync.
func (e *groupEngine) acceptSync(from node.NodeID, body []byte) error {
	var msg groupSyncMsg
	if err := decodeGroupMsg(body, &msg); err != nil {
		return err
	}
	s, err := e.scope(msg.Scope)
	if err != nil {
		return err
	}
	e.stats.syncBytesIn.Add(uint64(len(body)))
	if err := validateGroupOps(msg.Ops, true); err != nil {
		return err
	}
	if len(msg.Gone) > groupGoneMax {
		return fmt.Errorf("%w: %d removals, limit %d", ErrGroupBadFrame, len(msg.Gone), groupGoneMax)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkPeer(from, &msg.groupHeader); err != nil {
		return err
	}
	v := s.views[from]
	if v == nil || v.inc != msg.FromInc {
		s.dropView(from, GroupNodeDown)
		v = &groupView{inc: msg.FromInc, groups: make(map[string]int)}
		s.views[from] = v
	}
	if msg.Part == 0 {
		if msg.Seq <= v.seq {
			return fmt.Errorf("%w: sync %d, view at %d", ErrGroupOutOfOrder, msg.Seq, v.seq)
		}
		v.staging = &groupStaging{seq: msg.Seq}
	}
	st := v.staging
	if st == nil || st.seq != msg.Seq || st.next != msg.Part {
		v.staging = nil
		return fmt.Errorf("%w: sync %d part %d", ErrGroupOutOfOrder, msg.Seq, msg.Part)
	}
	if len(st.ops)+len(msg.Ops) > e.cfg.MaxMembersPerNode {
		v.staging = nil
		return fmt.Errorf("%w: more than %d members", ErrGroupSyncTooLarge, e.cfg.MaxMembersPerNode)
	}
	st.ops = append(st.ops, msg.Ops...)
	st.next++
	if !msg.Last {
		return nil
	}
	v.staging = nil
	s.replaceView(from, v, st.ops, msg.Gone)
	v.seq = st.seq
	e.stats.syncsIn.Add(1)
	if msg.Ask {
		if l := s.links[from]; l != nil {
			l.markSync(s.idx)
		}
	}
	if v.digest.count != msg.Count || v.digest.hash != msg.Hash {
		v.seq = 0 // refuse deltas until a sync matches
		return fmt.Errorf("%w: sync digest mismatch (%d members here, %d sent)", ErrGroupOutOfOrder, v.digest.count, msg.Count)
	}
	return nil
}

type groupKey struct {
	group  string
	serial uint64
}

// replaceView makes peer id's members exactly ops: the ones missing go
// (with their reason from gone, else leave), the others are set. Called
// with s.mu held.
func (s *GroupScope) replaceView(id node.NodeID, v *groupView, ops, gone []groupOp) {
	keep := make(map[groupKey]struct{}, len(ops))
	for i := range ops {
		keep[groupKey{ops[i].Group, ops[i].Serial}] = struct{}{}
	}
	why := make(map[groupKey]groupOp, len(gone))
	for _, op := range gone {
		if op.Count == 0 {
			why[groupKey{op.Group, op.Serial}] = op
		}
	}
	for name := range v.groups {
		g := s.groups[name]
		if g == nil || g.nodes[id] == nil {
			continue
		}
		for serial := range g.nodes[id].members {
			k := groupKey{name, serial}
			if _, ok := keep[k]; !ok {
				op := why[k] // zero (reason leave) when not listed
				op.Group, op.Serial, op.Count, op.Meta = name, serial, 0, nil
				s.remoteSet(id, v, op, GroupLeave)
			}
		}
	}
	for i := range ops {
		s.remoteSet(id, v, ops[i], GroupLeave)
	}
}

// acceptDelta applies a peer's changes since its previous frame.
func (e *groupEngine) acceptDelta(from node.NodeID, body []byte) error {
	var msg groupDeltaMsg
	if err := decodeGroupMsg(body, &msg); err != nil {
		return err
	}
	s, err := e.scope(msg.Scope)
	if err != nil {
		return err
	}
	e.stats.deltaBytesIn.Add(uint64(len(body)))
	if err := validateGroupOps(msg.Ops, false); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkPeer(from, &msg.groupHeader); err != nil {
		return err
	}
	v := s.views[from]
	if v == nil || v.inc != msg.FromInc || v.seq == 0 || v.seq != msg.Prev {
		return fmt.Errorf("%w: delta after %d", ErrGroupOutOfOrder, msg.Prev)
	}
	if v.digest.count+len(msg.Ops) > e.cfg.MaxMembersPerNode {
		v.seq = 0
		return fmt.Errorf("%w: more than %d members", ErrGroupSyncTooLarge, e.cfg.MaxMembersPerNode)
	}
	for i := range msg.Ops {
		s.remoteSet(from, v, msg.Ops[i], GroupLeave)
	}
	v.seq = msg.Seq
	if msg.HasDigest && (v.digest.count != msg.Count || v.digest.hash != msg.Hash) {
		v.seq = 0
		return fmt.Errorf("%w: digest mismatch (%d members here, %d sent)", ErrGroupOutOfOrder, v.digest.count, msg.Count)
	}
	return nil
}
