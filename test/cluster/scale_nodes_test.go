package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// TestScaleNodes starts an in-process cluster of 5 voters and the rest
// non-voters (9 nodes; 50 with ROSTER_SCALE=1), Raft state in memory, fast
// profile, and prints the time to form, then kills 5 random nodes at once
// (not the leader, at most 2 voters, so a quorum remains) and prints how long until all their names are gone from
// every survivor. It asserts what must hold: 5 voters, non-voters forward
// writes and serve local reads, every killed node's name is purged, every
// survivor's name stays (no false purge).
//
//	ROSTER_SCALE=1 go test -run TestScaleNodes -v ./test/cluster/
func TestScaleNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 9 nodes")
	}
	n := 9
	if os.Getenv("ROSTER_SCALE") != "" {
		n = 50
	}
	start := time.Now()
	c := New(t, Options{Nodes: n, StartTimeout: 5 * time.Minute, Tune: func(_ int, cc *cnode.Config) {
		cc.BootstrapExpect, cc.InmemStore = 5, true
	}})
	formed := time.Since(start)
	ctx := context.Background()
	l := c.Leader()
	if err := WaitFor(time.Minute, func() error {
		servers, err := c.Node(l).GlobalTable().Configuration()
		if err != nil {
			return err
		}
		voters := 0
		for _, s := range servers {
			if !s.Nonvoter {
				voters++
			}
		}
		if voters != 5 || len(servers) != n {
			return fmt.Errorf("%d voters of %d servers, want 5 of %d", voters, len(servers), n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every node registers one name (non-voters forward the write).
	regs := make([]global.Registration, n)
	for i := range n {
		nd := c.Node(i)
		pid, err := nd.Spawn(func(ctx context.Context, _ *node.Process) error { <-ctx.Done(); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := WaitFor(time.Minute, func() error { // elections may churn on a loaded host
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			regs[i], err = nd.RegisterGlobal(wctx, fmt.Sprintf("scale/%d", i), pid, nil)
			return err
		}); err != nil {
			t.Fatalf("register on node %d: %v", i, err)
		}
	}
	// A non-voter's local replica serves every name.
	nv := -1
	for i := n - 1; i >= 0; i-- {
		if i != l {
			nv = i
			break
		}
	}
	if err := WaitFor(30*time.Second, func() error {
		if got := c.Node(nv).GlobalTable().Count(); got < n {
			return fmt.Errorf("node %d's replica holds %d of %d names", nv, got, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	// Five random nodes, never the leader and at most 2 of the 5 voters
	// (3 voters must live for a quorum to purge anything).
	servers, err := c.Node(l).GlobalTable().Configuration()
	if err != nil {
		t.Fatal(err)
	}
	voter := map[string]bool{}
	for _, s := range servers {
		voter[string(s.ID)] = !s.Nonvoter
	}
	var victims []int
	voters := 0
	for _, i := range rng.Perm(n) {
		v := voter[string(c.ID(i))]
		if i == l || len(victims) == 5 || (v && voters == 2) {
			continue
		}
		if v {
			voters++
		}
		victims = append(victims, i)
	}
	t.Logf("killing nodes %v (leader %d)", victims, l)
	killedAt := time.Now()
	var waits []<-chan error
	for _, i := range victims {
		ch, err := c.KillAsync(i)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, ch)
	}
	for _, ch := range waits {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if err := WaitFor(2*time.Minute, func() error {
		for _, s := range c.Running() {
			for _, v := range victims {
				if _, _, ok := c.Node(s).GlobalTable().Resolve(regs[v].Name); ok {
					return fmt.Errorf("%s still on node %d", regs[v].Name, s)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	purged := time.Since(killedAt)
	for _, s := range c.Running() {
		for i := range n {
			if slices.Contains(victims, i) {
				continue
			}
			if r, _, ok := c.Node(s).GlobalTable().Resolve(regs[i].Name); !ok || r != regs[i].Owner {
				t.Errorf("false purge: %s (a live node's) missing on node %d", regs[i].Name, s)
			}
		}
	}
	t.Logf("%d nodes (5 voters, %d non-voters): formed in %v; 5 killed at once -> their names gone from every survivor in %v",
		n, n-5, formed.Round(time.Millisecond), purged.Round(time.Millisecond))
}
