package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
)

// GroupStrategy picks one member of a group for SendToMember. members is
// sorted by pid and never empty; key is the caller's routing key (used by
// hashing strategies, ignored by others). Pick returns an index into
// members. It is called from the sender's goroutine, concurrently from
// many; it must not block.
//
// The strategies here work on any sorted member list, so the local pool
// dispatch can share them (a pool's members are a group's local members).
type GroupStrategy interface {
	Pick(members []GroupMember, key string) int
}

// GroupRoundRobin cycles through the members in pid order.
func GroupRoundRobin() GroupStrategy { return &groupRoundRobin{} }

type groupRoundRobin struct{ next atomic.Uint64 }

func (r *groupRoundRobin) Pick(members []GroupMember, _ string) int {
	return int((r.next.Add(1) - 1) % uint64(len(members)))
}

// GroupRandom picks a member uniformly at random.
func GroupRandom() GroupStrategy { return groupRandom{} }

type groupRandom struct{}

func (groupRandom) Pick(members []GroupMember, _ string) int { return rand.IntN(len(members)) }

// GroupHash sends one key to one member for as long as the members do not
// change, and moves only the keys of a member that goes or comes
// (rendezvous hashing over key and pid), the same choice on every node that
// sees the same members.
func GroupHash() GroupStrategy { return groupHashPick{} }

type groupHashPick struct{}

func (groupHashPick) Pick(members []GroupMember, key string) int {
	best, bestScore := 0, uint64(0)
	for i, m := range members {
		score := groupHash64(key, m.PID)
		if i == 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

func groupHash64(key string, pid node.PID) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, s := range [2]string{key, string(pid.Node)} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime
	}
	for _, v := range [2]uint64{pid.Incarnation, pid.Serial} {
		for i := 0; i < 8; i++ {
			h = (h ^ (v & 0xff)) * prime
			v >>= 8
		}
	}
	// Finalise (splitmix64) so that nearby inputs spread.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ (h >> 31)
}

// GroupLeastLoaded picks the member with the smallest load (ties: the
// first in pid order). load reports a member's load, e.g. its mailbox
// length from the runtime, or calls in flight; members it cannot measure
// (remote ones, say) should report a large value so local measurable
// members are preferred.
func GroupLeastLoaded(load func(node.PID) int) GroupStrategy { return groupLeastLoaded{load} }

type groupLeastLoaded struct{ load func(node.PID) int }

func (g groupLeastLoaded) Pick(members []GroupMember, _ string) int {
	best, bestLoad := 0, 0
	for i, m := range members {
		l := g.load(m.PID)
		if i == 0 || l < bestLoad {
			best, bestLoad = i, l
		}
	}
	return best
}

// SendToMember sends msg to one member of group chosen by strategy (with
// routing key key) and returns it. ErrGroupNoMembers if the group is
// empty; otherwise Send's error (see node.Node.Send).
func (s *GroupScope) SendToMember(ctx context.Context, group string, strategy GroupStrategy, key string, msg any) (node.PID, error) {
	if err := ValidateGroupName(group); err != nil {
		return node.PID{}, err
	}
	if strategy == nil {
		return node.PID{}, fmt.Errorf("%w: nil strategy", node.ErrNilFunc)
	}
	members := s.GroupMembers(group)
	if len(members) == 0 {
		return node.PID{}, fmt.Errorf("%w: %q", ErrGroupNoMembers, group)
	}
	i := strategy.Pick(members, key)
	if i < 0 || i >= len(members) {
		return node.PID{}, fmt.Errorf("cluster: strategy picked %d of %d members", i, len(members))
	}
	pid := members[i].PID
	return pid, s.e.rt.Send(ctx, pid, msg)
}

// GroupStrategyOf makes a local pool strategy (node.Strategy:
// node.RoundRobin, node.Random, node.LeastLoaded, node.HashKey) pick among
// a group's members, so one strategy value serves a local pool and a
// cluster-wide group alike. Members are passed as local entries (pid, meta
// as the value); queueLen is this node's mailbox length for a local member
// (from node.Node.ProcessInfo), -1 for a dead one and 0 for another
// node's, as node.Strategy expects. Note that node.HashKey hashes with a
// per-process seed: use GroupHash for a key-to-member choice that every
// node makes alike.
func GroupStrategyOf(s node.Strategy, rt *node.Node) GroupStrategy {
	return groupLocalStrategy{s: s, rt: rt}
}

type groupLocalStrategy struct {
	s  node.Strategy
	rt *node.Node
}

func (g groupLocalStrategy) Pick(members []GroupMember, _ string) int {
	entries := make([]local.Entry[node.PID], len(members))
	for i, m := range members {
		entries[i] = local.Entry[node.PID]{PID: m.PID, Value: m.Meta}
	}
	return g.s.Pick(entries, g.queueLen)
}

func (g groupLocalStrategy) queueLen(pid node.PID) int {
	if g.rt == nil || pid.Node != g.rt.ID() {
		return 0
	}
	info, err := g.rt.ProcessInfo(pid)
	if err != nil {
		return -1
	}
	return info.MessageQueueLen
}
