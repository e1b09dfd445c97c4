package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	cnode "github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// FaultKind is one kind of fault the nemesis injects.
type FaultKind string

// Fault kinds.
const (
	FaultKill          FaultKind = "kill"           // crash a random node; restart it later
	FaultKillLeader    FaultKind = "kill-leader"    // crash the leader; measure failover
	FaultFreeze        FaultKind = "freeze"         // cut one node off everything
	FaultMinority      FaultKind = "partition"      // split off a random minority
	FaultIsolateLeader FaultKind = "isolate-leader" // cut the leader off the rest
	FaultBridge        FaultKind = "bridge"         // two sides that reach each other only through one node
)

// AllFaults is every fault kind, the nemesis's default menu.
var AllFaults = []FaultKind{FaultKill, FaultKillLeader, FaultFreeze, FaultMinority, FaultIsolateLeader, FaultBridge}

// incarnation names one boot of one node.
type incarnation struct {
	Node transport.NodeID
	Inc  uint64
}

// nemesis injects seeded faults one at a time and records what it did:
// which incarnations were cut off or killed (and when), purge times of
// killed nodes' names, and failover times.
type nemesis struct {
	c       *Cluster
	h       *History
	r       *rand.Rand
	faults  []FaultKind
	hold    [2]time.Duration // fault duration range
	quiet   [2]time.Duration // pause between faults
	bound   time.Duration    // a dead node's names must go within this
	started func(slot int, nd *cnode.Node)
	// zombies returns running nodes whose incarnation was purged while
	// they were cut off; healAll restarts them, as an operator would.
	zombies func() []int

	mu       sync.Mutex
	cuts     cutLog // when each incarnation was cut off or killed, interval by interval
	killed   map[incarnation]int64
	purges   []time.Duration
	slow     []string // purges over bound
	failover []time.Duration
	log      []string
}

func (n *nemesis) logf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, fmt.Sprintf("%8.3fs ", float64(n.h.Now())/1e9)+fmt.Sprintf(format, args...))
}

func (n *nemesis) markCut(slots []int, killed bool) {
	now := n.h.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, i := range slots {
		nd := n.c.Node(i)
		if nd == nil {
			continue
		}
		k := incarnation{Node: nd.ID(), Inc: nd.Incarnation()}
		n.cuts.open(k, now)
		if killed {
			n.killed[k] = now
		}
	}
}

// run injects faults until ctx ends, then heals and restarts everything.
func (n *nemesis) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !n.sleep(ctx, n.quiet) {
			break
		}
		n.inject(ctx, n.faults[n.r.IntN(len(n.faults))])
	}
	n.healAll()
}

// sleep waits a random duration in rng; false if ctx ended first.
func (n *nemesis) sleep(ctx context.Context, rng [2]time.Duration) bool {
	d := rng[0] + time.Duration(n.r.Int64N(int64(rng[1]-rng[0])+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// inject applies one fault, holds it, and undoes it.
func (n *nemesis) inject(ctx context.Context, f FaultKind) {
	size := n.c.Size()
	leader := n.c.Leader()
	switch f {
	case FaultKill, FaultKillLeader:
		victim := n.r.IntN(size)
		if f == FaultKillLeader && leader >= 0 {
			victim = leader
		}
		n.kill(ctx, victim, victim == leader)
	case FaultFreeze:
		victim := n.r.IntN(size)
		n.logf("freeze %s", n.c.ID(victim))
		n.markCut([]int{victim}, false)
		n.c.Freeze(victim)
		n.sleep(ctx, n.hold)
	case FaultMinority, FaultIsolateLeader:
		perm := n.r.Perm(size)
		minority := perm[:1+n.r.IntN((size-1)/2)]
		if f == FaultIsolateLeader && leader >= 0 {
			minority = []int{leader}
		}
		slices.Sort(minority)
		n.logf("%s: %v cut off", f, n.ids(minority))
		n.markCut(minority, false)
		n.c.Partition(minority)
		n.sleep(ctx, n.hold)
	case FaultBridge:
		perm := n.r.Perm(size)
		bridge, left := perm[0], perm[1:1+(size-1)/2]
		n.logf("bridge %s between %v and the rest", n.c.ID(bridge), n.ids(left))
		n.markCut(bridgeCut(perm, bridge, left, leader), false)
		n.c.Bridge(bridge, left)
		n.sleep(ctx, n.hold)
	}
	n.healAll()
}

// kill crashes victim, waits for its names to be purged (measuring how
// long that took), measures failover when it led, and restarts it.
func (n *nemesis) kill(ctx context.Context, victim int, wasLeader bool) {
	nd := n.c.Node(victim)
	if nd == nil {
		return
	}
	inc := incarnation{Node: nd.ID(), Inc: nd.Incarnation()}
	had := n.namesOf(inc) > 0
	n.markCut([]int{victim}, true)
	start := time.Now()
	n.logf("kill %s (leader=%v, holds names=%v)", inc.Node, wasLeader, had)
	// Kill cuts the node off at once and then shuts it down; failover and
	// purge are measured from the cut, concurrently with the shutdown.
	stopped, err := n.c.KillAsync(victim)
	if err != nil {
		n.logf("kill %s: %v", inc.Node, err)
		return
	}
	defer func() {
		if err := <-stopped; err != nil {
			n.logf("kill %s: %v", inc.Node, err)
		}
	}()
	var wg sync.WaitGroup
	if wasLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := n.c.MeasureFailover(context.Background(), start, 15*time.Second); err == nil {
				n.mu.Lock()
				n.failover = append(n.failover, d)
				n.mu.Unlock()
				n.logf("failover after killing %s: %v", inc.Node, d)
			} else {
				n.logf("failover after killing %s: %v", inc.Node, err)
			}
		}()
	}
	if had {
		err := WaitFor(n.bound, func() error {
			if c := n.namesOf(inc); c > 0 {
				return fmt.Errorf("%d names of %s/%d remain", c, inc.Node, inc.Inc)
			}
			return nil
		})
		d := time.Since(start)
		n.mu.Lock()
		if err != nil {
			n.slow = append(n.slow, fmt.Sprintf("%s/%d: %v", inc.Node, inc.Inc, err))
		} else {
			n.purges = append(n.purges, d)
		}
		n.mu.Unlock()
		n.logf("names of killed %s gone after %v (err %v)", inc.Node, d, err)
	} else {
		n.sleep(ctx, n.hold)
	}
	wg.Wait()
}

// namesOf counts the names inc holds in every running replica (max).
func (n *nemesis) namesOf(inc incarnation) int {
	most := 0
	for _, i := range n.c.Running() {
		nd := n.c.Node(i)
		if nd == nil || nd.GlobalTable() == nil {
			continue
		}
		c := 0
		for _, r := range nd.GlobalTable().ByNode(inc.Node) {
			if r.Owner.Incarnation == inc.Inc {
				c++
			}
		}
		most = max(most, c)
	}
	return most
}

// healAll heals the network, restarts purged ("zombie") nodes, and
// restarts killed nodes, one at a time: each restarted node catches up
// before the next fault.
func (n *nemesis) healAll() {
	n.c.Heal()
	n.mu.Lock()
	n.cuts.closeAll(n.h.Now(), n.killed)
	n.mu.Unlock()
	if n.zombies != nil {
		for _, i := range n.zombies() {
			n.logf("restart purged %s", n.c.ID(i))
			n.markCut([]int{i}, true)
			if err := n.c.Kill(i); err != nil {
				n.logf("stop %s: %v", n.c.ID(i), err)
			}
			n.restart(i)
		}
	}
	for i := 0; i < n.c.Size(); i++ {
		if n.c.Node(i) == nil {
			n.restart(i)
		}
	}
}

// restart boots killed node i, starts its clients and watcher, and waits
// until it has caught up.
func (n *nemesis) restart(i int) {
	if err := n.c.Restart(i); err != nil {
		n.logf("restart %s: %v", n.c.ID(i), err)
		return
	}
	n.logf("restarted %s", n.c.ID(i))
	if n.started != nil {
		n.started(i, n.c.Node(i))
	}
	if err := n.c.WaitConverged(context.Background(), 20*time.Second); err != nil {
		n.logf("after restarting %s: %v", n.c.ID(i), err)
	}
}

func (n *nemesis) ids(slots []int) []transport.NodeID {
	out := make([]transport.NodeID, len(slots))
	for i, s := range slots {
		out[i] = n.c.ID(s)
	}
	return out
}

// bridgeCut is who a bridge fault cuts off from the leader: every node
// reaches the bridge, and the leader keeps its own side and the bridge (a
// majority, and its followers' leader stickiness keeps it leader), so only
// the far side's nodes can be declared dead by the leader. With no known
// leader every node but the bridge may be.
func bridgeCut(perm []int, bridge int, left []int, leader int) []int {
	if leader < 0 {
		return perm[1:]
	}
	if leader == bridge {
		return nil
	}
	var far []int
	leaderLeft := slices.Contains(left, leader)
	for _, i := range perm[1:] {
		if slices.Contains(left, i) != leaderLeft {
			far = append(far, i)
		}
	}
	return far
}
