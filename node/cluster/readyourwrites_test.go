package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// TestReadYourWritesAcrossNodes is the regression test for sends and
// lookups that missed a name just registered on another node (the
// follower's replica had not applied it yet): right after RegisterGlobal
// returns on one node, a send and a lookup by that name on the others
// find it, and a list with MinIndex of the registration includes it.
func TestReadYourWritesAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 40 {
		from, to := nodes[i%3], nodes[(i+1)%3]
		pid, got := spawnReceiver(t, from)
		name := fmt.Sprintf("ryw/%d", i)
		reg, err := from.RegisterGlobal(ctx, name, pid, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := to.Send(ctx, node.Global(name), "hi"); err != nil {
			t.Fatalf("round %d: send by global name from %s right after the registration on %s: %v", i, to.ID(), from.ID(), err)
		}
		if r, _, err := to.LookupGlobal(ctx, name); err != nil || r.Owner != pid {
			t.Fatalf("round %d: lookup from %s: %+v %v", i, to.ID(), r, err)
		}
		other := nodes[(i+2)%3]
		regs, _, err := other.ListGlobal(ctx, "ryw/", global.MinIndex(reg.Index))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range regs {
			found = found || r.Name == name
		}
		if !found {
			t.Fatalf("round %d: list with MinIndex(%d) on %s misses %q", i, reg.Index, other.ID(), name)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: message not delivered", i)
		}
	}
	// A name nobody holds is still not found (after asking the leader).
	if _, _, err := nodes[1].LookupGlobal(ctx, "ryw/none"); err == nil {
		t.Fatal("found a name nobody registered")
	}
}
