package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// TestFenceIdentifiesOneRegistration reproduces a global-table bug found by
// the chaos runs: a fence is the Raft index of the registration, but the
// leader's group commit packs concurrent writes into one Raft entry, so
// several registrations of one name committed in the same entry (a
// re-register racing another, or unregister + register) get the same fence.
// A send fenced for the first owner is then delivered to the second:
// GlobalFenced no longer identifies one registration.
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
		t.Errorf("%d fences shared by several registrations (global: group commit gives each command of a batch the entry's index)", shared)
	}
}
