package node

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"

	"github.com/roster-dev/roster/local"
)

// Pool is a destination that load-balances over the processes registered
// under Key in Registry (usually a duplicate registry such as Groups()):
// each Send, Call or Monitor picks one of them with Strategy (nil: a
// random pick). An empty group gives ErrNotFound (Call: a *CallError
// with NoProc).
//
//	workers := node.Pool{Registry: n.Groups(), Key: "workers", Strategy: node.NewRoundRobin()}
//	err := n.Send(ctx, workers, job)
type Pool struct {
	Registry *local.Registry[PID]
	Key      string
	Strategy Strategy
}

// Strategy picks the member of a group a message goes to.
type Strategy interface {
	// Pick returns the index in members (never empty; in registry order)
	// of the one to use. queueLen reports a member's mailbox length (-1
	// for a dead one). Called on the sending goroutine, possibly from many
	// goroutines at once; it must not block.
	Pick(members []local.Entry[PID], queueLen func(PID) int) int
}

// RoundRobin takes the members in turn. Use one value per pool (it holds
// the turn); it is safe for concurrent use.
type RoundRobin struct{ next atomic.Uint64 }

// NewRoundRobin returns a round-robin strategy starting at the first member.
func NewRoundRobin() *RoundRobin { return &RoundRobin{} }

// Pick implements Strategy.
func (r *RoundRobin) Pick(members []local.Entry[PID], _ func(PID) int) int {
	return int((r.next.Add(1) - 1) % uint64(len(members)))
}

// Random picks a member uniformly at random.
type Random struct{}

// Pick implements Strategy.
func (Random) Pick(members []local.Entry[PID], _ func(PID) int) int {
	return rand.IntN(len(members))
}

// LeastLoaded picks the member with the shortest mailbox (ProcessInfo's
// MessageQueueLen), the first of equals; members on other nodes count as
// empty. It reads every member's queue length, O(members) per pick.
type LeastLoaded struct{}

// Pick implements Strategy.
func (LeastLoaded) Pick(members []local.Entry[PID], queueLen func(PID) int) int {
	best, bestLen := 0, -1
	for i, m := range members {
		l := queueLen(m.PID)
		if l < 0 {
			continue
		}
		if bestLen < 0 || l < bestLen {
			best, bestLen = i, l
		}
	}
	return best
}

// HashKey assigns messages by a routing key: the same key goes to the same
// member while the membership is unchanged, and when a member joins or
// leaves only the keys it gains or held move (rendezvous hashing over the
// members' pids). Build one per message: node.HashKey("user-42").
type HashKey string

var hashSeed = maphash.MakeSeed()

// Pick implements Strategy.
func (k HashKey) Pick(members []local.Entry[PID], _ func(PID) int) int {
	best, bestScore := 0, uint64(0)
	for i, m := range members {
		var h maphash.Hash
		h.SetSeed(hashSeed)
		_, _ = h.WriteString(string(k))
		_ = h.WriteByte(0)
		_, _ = h.WriteString(m.PID.String())
		if s := h.Sum64(); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

var (
	_ Strategy = (*RoundRobin)(nil)
	_ Strategy = Random{}
	_ Strategy = LeastLoaded{}
	_ Strategy = HashKey("")
)

// queueLen is the Strategy view of ProcessInfo: -1 for a dead local pid,
// 0 for another node's.
func (n *Node) queueLen(pid PID) int {
	if pid.Node != n.id {
		return 0
	}
	p := n.lookup(pid)
	if p == nil {
		return -1
	}
	return p.mb.len()
}

// PickMember returns the member of pool its strategy picks now, for code
// that wants the pid rather than a send.
func (n *Node) PickMember(pool Pool) (PID, error) {
	if pool.Registry == nil {
		return PID{}, fmt.Errorf("%w: pool with a nil registry", ErrBadDest)
	}
	members := pool.Registry.Lookup(pool.Key)
	if len(members) == 0 {
		return PID{}, fmt.Errorf("%w: no member under %q in registry %q", ErrNotFound, pool.Key, pool.Registry.Name())
	}
	s := pool.Strategy
	if s == nil {
		s = Random{}
	}
	i := s.Pick(members, n.queueLen)
	if i < 0 || i >= len(members) {
		return PID{}, fmt.Errorf("%w: strategy picked %d of %d members", ErrBadDest, i, len(members))
	}
	return members[i].PID, nil
}
