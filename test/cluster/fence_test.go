package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// TestFenceIdentifiesOneRegistration is the regression test of a
// global-table bug the chaos runs found: the fence was the Raft index of
// the registration, but the leader's group commit packs concurrent writes
// into one Raft entry, so several registrations of one name committed in
// the same entry (a re-register racing another, or unregister + register)
// got the same fence, and a send fenced for the first owner was delivered
// to the second. (Fixed in global: fence = index << 16 | position.)
//
// Expected: every successful ReRegister that changed the owner returns a
// fence no other owner of the name was given.
func TestFenceIdentifiesOneRegistration(t *testing.T) {
	c := New(t, Options{Nodes: 1})
	nd := c.Node(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const writers = 32
	pids := make([]node.PID, writers)
	for i := range pids {
		pids[i] = spawnIdle(t, nd)
	}
	var mu sync.Mutex
	owners := map[uint64]map[node.PID]bool{}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for _, pid := range pids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reg, err := nd.ReRegisterGlobal(ctx, "contended", pid, nil)
				if err != nil {
					t.Errorf("re-register: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if owners[reg.Fence] == nil {
					owners[reg.Fence] = map[node.PID]bool{}
				}
				owners[reg.Fence][pid] = true
			}()
		}
		wg.Wait()
	}
	shared := 0
	for fence, by := range owners {
		if len(by) > 1 {
			shared++
			if shared <= 3 {
				t.Errorf("fence %d was given to %d different owners of one name", fence, len(by))
			}
		}
	}
	if shared > 0 {
		t.Errorf("%d fences shared by several registrations of one name", shared)
	}
}

// TestThawedNodeCanRegisterAgain: a node cut off long enough to be
// declared dead has its incarnation purged; when it comes back with that
// incarnation the leader revives it, so a transient partition does not
// disable global names on that node for good (its purged names stay gone).
func TestThawedNodeCanRegisterAgain(t *testing.T) {
	c := New(t, Options{Nodes: 3})
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	victim := (l + 1) % 3
	nd := c.Node(victim)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := nd.RegisterGlobal(ctx, "before", spawnIdle(t, nd), nil); err != nil {
		t.Fatal(err)
	}
	c.Freeze(victim)
	// Wait until the majority purged the frozen node's name.
	if err := WaitFor(15*time.Second, func() error {
		if _, _, err := c.Node(l).LookupGlobal(ctx, "before"); err == nil {
			return fmt.Errorf("not purged yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.Thaw(victim)
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(15*time.Second, func() error {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		defer wcancel()
		_, err := nd.RegisterGlobal(wctx, "after", spawnIdle(t, nd), nil)
		return err
	})
	if err != nil {
		t.Fatalf("a thawed node still cannot register: %v", err)
	}
}
