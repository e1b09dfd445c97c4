package cluster

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// TestGroupChaos runs seeded random joins, leaves, meta updates, process
// exits, partitions, false death verdicts, and kill/restart cycles (new
// incarnations) on 3 and 5 nodes. After every fault heals it checks that
// each node's view converges to the truth (the live members of the live
// incarnations) and that after a reconcile no member of a dead incarnation
// is left anywhere. The seed is in the subtest name: rerun one with
// -run 'TestGroupChaos/nodes=3/seed=2'. ROSTER_SOAK=1 runs more seeds and
// steps.
func TestGroupChaos(t *testing.T) {
	seeds, rounds := 3, 6
	if os.Getenv("ROSTER_SOAK") != "" {
		seeds, rounds = 20, 30
	}
	for _, n := range []int{3, 5} {
		for seed := 1; seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("nodes=%d/seed=%d", n, seed), func(t *testing.T) {
				runGroupChaos(t, n, int64(seed), rounds)
			})
		}
	}
}

type groupChaos struct {
	*groupTestCluster
	pids map[int][]node.PID // live processes per node index
}

func runGroupChaos(t *testing.T, n int, seed int64, rounds int) {
	c := &groupChaos{groupTestCluster: newGroupTestCluster(t, n, seed, FastGroupConfig()), pids: make(map[int][]node.PID)}
	var worst time.Duration
	for round := 0; round < rounds; round++ {
		heal := c.fault(t)
		for step := 0; step < 30; step++ {
			c.mutate(t)
		}
		heal()
		took := groupWait(t, 10*time.Second, fmt.Sprintf("seed %d round %d: views converge after heal", seed, round), c.converged)
		worst = max(worst, took)
		c.reconcileAll()
		if err := c.noGhosts(); err != nil {
			t.Fatalf("seed %d round %d: %v", seed, round, err)
		}
		if err := c.converged(); err != nil {
			t.Fatalf("seed %d round %d: after reconcile: %v", seed, round, err)
		}
	}
	t.Logf("seed %d, %d nodes: worst convergence after heal %v", seed, n, worst)
}

// fault injects one random fault and returns what heals it.
func (c *groupChaos) fault(t *testing.T) func() {
	live := c.live()
	switch c.rng.IntN(4) {
	case 0: // partition into two sides; membership declares nobody dead
		var a, b []node.NodeID
		for _, gn := range c.nodes {
			if c.rng.IntN(2) == 0 {
				a = append(a, gn.id)
			} else {
				b = append(b, gn.id)
			}
		}
		c.net.Partition(a, b)
		return c.net.Heal
	case 1: // a false death verdict on one peer, later revoked
		gn := live[c.rng.IntN(len(live))]
		for _, o := range live {
			if o != gn {
				o.e.peerGone(gn.id, gn.inc, GroupNodeDown)
			}
		}
		return c.announceAll
	case 2: // kill a node (membership notices), restart it later
		if len(live) <= 2 {
			return func() {}
		}
		i := slices.Index(c.nodes, live[c.rng.IntN(len(live))])
		c.kill(i)
		delete(c.pids, i)
		return func() { c.restart(i) }
	default: // a node "freezes": cut off without a verdict, then resumes
		gn := live[c.rng.IntN(len(live))]
		var rest []node.NodeID
		for _, o := range c.nodes {
			if o != gn {
				rest = append(rest, o.id)
			}
		}
		c.net.Partition([]node.NodeID{gn.id}, rest)
		return c.net.Heal
	}
}

// mutate does one random local change on a live node.
func (c *groupChaos) mutate(t *testing.T) {
	live := c.live()
	gn := live[c.rng.IntN(len(live))]
	i := slices.Index(c.nodes, gn)
	s := gn.e.list[0]
	group := "g" + strconv.Itoa(c.rng.IntN(4))
	switch op := c.rng.IntN(10); {
	case op < 3 || len(c.pids[i]) == 0:
		p := c.spawnIdle(i)
		c.pids[i] = append(c.pids[i], p)
		if err := s.JoinGroup(group, p, []byte(group)); err != nil {
			t.Fatal(err)
		}
	case op < 6:
		p := c.pids[i][c.rng.IntN(len(c.pids[i]))]
		if err := s.JoinGroup(group, p, []byte{byte(op)}); err != nil {
			t.Fatal(err)
		}
	case op < 8:
		p := c.pids[i][c.rng.IntN(len(c.pids[i]))]
		_ = s.LeaveGroup(group, p) // ErrGroupNotMember is fine
	default:
		k := c.rng.IntN(len(c.pids[i]))
		p := c.pids[i][k]
		c.pids[i] = slices.Delete(c.pids[i], k, k+1)
		if err := gn.rt.Exit(p, node.Killed); err != nil {
			t.Fatal(err)
		}
		groupWait(t, time.Second, "exit", func() error {
			if gn.rt.Alive(p) {
				return fmt.Errorf("%s alive", p)
			}
			return nil
		})
	}
}

// reconcileAll runs each engine's reconcile against the live membership.
func (c *groupChaos) reconcileAll() {
	alive := make(map[node.NodeID]uint64)
	for _, gn := range c.live() {
		alive[gn.id] = gn.inc
	}
	for _, gn := range c.live() {
		gn.e.reconcile(alive)
	}
}

// noGhosts checks that no view holds a member of a dead incarnation.
func (c *groupChaos) noGhosts() error {
	cur := make(map[node.NodeID]uint64)
	for _, gn := range c.live() {
		cur[gn.id] = gn.inc
	}
	for _, gn := range c.live() {
		for _, s := range gn.e.list {
			infos, _ := s.ListGroups("", "", 0)
			for _, gi := range infos {
				for _, m := range s.GroupMembers(gi.Name) {
					if inc, ok := cur[m.PID.Node]; !ok || inc != m.PID.Incarnation {
						return fmt.Errorf("%s holds ghost %s in %q", gn.id, m.PID, gi.Name)
					}
				}
			}
		}
	}
	return nil
}
