package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/roster-dev/roster/transport"
)

// Fault kinds a Schedule's steps use besides the nemesis's.
const (
	FaultIsolate FaultKind = "isolate" // cut the target nodes off the rest
	FaultOneWay  FaultKind = "one-way" // what the target sends to To is lost
	FaultRestart FaultKind = "restart" // boot killed target nodes again
	FaultHeal    FaultKind = "heal"    // end every fault; restart killed nodes
)

// Target picks the nodes (by index) a step acts on, when the step runs:
// the leader or a name's owner at that moment, or fixed indexes.
type Target struct {
	desc string
	pick func(c *Cluster) []int
}

func (t Target) String() string { return t.desc }

// Nodes targets fixed node indexes.
func Nodes(i ...int) Target {
	return Target{desc: fmt.Sprint(i), pick: func(*Cluster) []int { return i }}
}

// LeaderNode targets the node that leads when the step runs (none if no
// node leads then).
func LeaderNode() Target {
	return Target{desc: "leader", pick: func(c *Cluster) []int {
		if l := c.Leader(); l >= 0 {
			return []int{l}
		}
		return nil
	}}
}

// OwnerOf targets the node whose process holds global name when the step
// runs (e.g. a singleton's), as a running node's replica sees it.
func OwnerOf(name string) Target {
	return Target{desc: "owner of " + name, pick: func(c *Cluster) []int {
		for _, i := range c.Running() {
			nd := c.Node(i)
			if nd == nil {
				continue
			}
			reg, _, err := nd.LookupGlobal(context.Background(), name)
			if err != nil {
				continue
			}
			if j := c.indexOf(reg.Owner.Node); j >= 0 {
				return []int{j}
			}
		}
		return nil
	}}
}

// Step is one action of a Schedule, held for Hold before the next step
// (0: the schedule's default).
type Step struct {
	Kind   FaultKind
	Target Target
	To     Target // FaultOneWay: the receiving side
	Hold   time.Duration
}

// For returns the step held for d.
func (s Step) For(d time.Duration) Step { s.Hold = d; return s }

func (s Step) String() string {
	switch s.Kind {
	case FaultHeal:
		return "heal"
	case FaultOneWay:
		return fmt.Sprintf("one-way %s -> %s", s.Target, s.To)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Target)
}

// Partition cuts the target nodes off the rest (on every layer).
func Partition(t Target) Step { return Step{Kind: FaultMinority, Target: t} }

// Isolate cuts the target nodes (usually one: Isolate(LeaderNode())) off
// the rest.
func Isolate(t Target) Step { return Step{Kind: FaultIsolate, Target: t} }

// OneWay loses what the from nodes send to the to nodes (see Net.OneWay).
func OneWay(from, to Target) Step { return Step{Kind: FaultOneWay, Target: from, To: to} }

// Freeze cuts the target nodes off everything while they run on.
func Freeze(t Target) Step { return Step{Kind: FaultFreeze, Target: t} }

// Kill crashes the target nodes; Restart or Heal boots them again.
func Kill(t Target) Step { return Step{Kind: FaultKill, Target: t} }

// Restart boots killed target nodes again.
func Restart(t Target) Step { return Step{Kind: FaultRestart, Target: t} }

// Heal ends every partition, one-way loss and freeze and restarts killed
// nodes.
func Heal() Step { return Step{Kind: FaultHeal} }

// Schedule is a fault schedule: scripted steps, or RandomSchedule's seeded
// ones (Seed says which; 0 for a scripted one).
type Schedule struct {
	Seed  uint64
	Steps []Step
	// Random is set by RandomSchedule: the steps came from Seed.
	Random bool
	// Hold is how long a step with Hold 0 lasts. Default 1.5 s (the fast
	// profile detects a dead node in about that).
	Hold time.Duration
}

// RandomSchedule returns n faults drawn with seed from menu (default:
// partition, isolate the leader, one-way, freeze, kill), each on random
// nodes of a size-node cluster and each followed by a Heal. The same seed
// gives the same schedule.
func RandomSchedule(seed uint64, n, size int, menu ...FaultKind) Schedule {
	if len(menu) == 0 {
		menu = []FaultKind{FaultMinority, FaultIsolateLeader, FaultOneWay, FaultFreeze, FaultKill}
	}
	r := rand.New(rand.NewPCG(seed, 0x5ced))
	s := Schedule{Seed: seed, Random: true}
	for range n {
		perm := r.Perm(size)
		var st Step
		switch k := menu[r.IntN(len(menu))]; k {
		case FaultMinority:
			st = Partition(Nodes(perm[:1+r.IntN(max(1, (size-1)/2))]...))
		case FaultIsolateLeader:
			st = Isolate(LeaderNode())
		case FaultOneWay:
			st = OneWay(Nodes(perm[0]), Nodes(perm[1:]...))
		case FaultKill, FaultKillLeader:
			st = Kill(Nodes(perm[0]))
		default:
			st = Step{Kind: k, Target: Nodes(perm[0])}
		}
		s.Steps = append(s.Steps, st, Heal())
	}
	return s
}

// ScheduleLog is what a schedule run did, step by step, with the seed.
type ScheduleLog struct {
	Seed   uint64
	Random bool
	h      *History
	mu     sync.Mutex
	Lines  []string
}

func (l *ScheduleLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Lines = append(l.Lines, fmt.Sprintf("%8.3fs ", sec(l.h.Now()))+fmt.Sprintf(format, args...))
}

// String is the log, one step a line, after the seed.
func (l *ScheduleLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := "schedule (scripted)\n"
	if l.Random {
		out = fmt.Sprintf("schedule seed=%d (RandomSchedule with this seed replays it)\n", l.Seed)
	}
	for _, line := range l.Lines {
		out += line + "\n"
	}
	return out
}

// RunSchedule applies s's steps in order, holding each, then heals
// everything and waits (up to 30 s) for a healthy cluster. Step times in
// the log are on h's clock (so they line up with the user's records).
// It returns early if ctx ends (still healing).
func (c *Cluster) RunSchedule(ctx context.Context, h *History, s Schedule) *ScheduleLog {
	if s.Hold <= 0 {
		s.Hold = 1500 * time.Millisecond
	}
	l := &ScheduleLog{Seed: s.Seed, Random: s.Random, h: h}
	for _, st := range s.Steps {
		if ctx.Err() != nil {
			break
		}
		c.apply(l, st)
		hold := st.Hold
		if hold <= 0 {
			hold = s.Hold
		}
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
	}
	if n := len(s.Steps); n == 0 || s.Steps[n-1].Kind != FaultHeal {
		c.apply(l, Heal())
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		l.logf("after the schedule: %v", err)
	}
	return l
}

// apply performs one step and logs it with the nodes it hit.
func (c *Cluster) apply(l *ScheduleLog, st Step) {
	var nodes []int
	if st.Target.pick != nil {
		nodes = st.Target.pick(c)
	}
	ids := make([]transport.NodeID, 0, len(nodes))
	for _, i := range nodes {
		ids = append(ids, c.ID(i))
	}
	if st.Kind != FaultHeal && len(nodes) == 0 {
		l.logf("%s: no node to act on; skipped", st)
		return
	}
	switch st.Kind {
	case FaultMinority, FaultIsolate, FaultIsolateLeader:
		c.Partition(nodes)
	case FaultOneWay:
		for _, j := range st.To.pick(c) {
			for _, i := range nodes {
				c.net.OneWay(c.ID(i), c.ID(j))
			}
		}
	case FaultFreeze:
		for _, i := range nodes {
			c.Freeze(i)
		}
	case FaultKill, FaultKillLeader:
		for _, i := range nodes {
			if err := c.Kill(i); err != nil {
				l.logf("kill %s: %v", c.ID(i), err)
			}
		}
	case FaultRestart:
		for _, i := range nodes {
			if err := c.Restart(i); err != nil {
				l.logf("restart %s: %v", c.ID(i), err)
			}
		}
	case FaultHeal:
		c.Heal()
		for i := range c.Size() {
			if c.Node(i) == nil {
				if err := c.Restart(i); err != nil {
					l.logf("restart %s: %v", c.ID(i), err)
				}
				ids = append(ids, c.ID(i))
			}
		}
		if len(ids) > 0 {
			l.logf("heal (restarted %v)", ids)
		} else {
			l.logf("heal")
		}
		return
	default:
		l.logf("%s: unknown step kind", st)
		return
	}
	l.logf("%s %v", st, ids)
}

// indexOf is the slot index of node id, or -1.
func (c *Cluster) indexOf(id transport.NodeID) int {
	for i, s := range c.slots {
		if s.id == id {
			return i
		}
	}
	return -1
}
