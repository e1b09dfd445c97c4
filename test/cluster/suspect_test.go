package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// ownerSignals spawns a process on nd that records the ownership signals
// it receives.
func ownerSignals(t *testing.T, nd *cnode.Node) (node.PID, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	pid, err := nd.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			switch b := m.Body.(type) {
			case cnode.GlobalNameSuspect:
				got = append(got, "suspect")
			case cnode.GlobalNameConfirmed:
				got = append(got, "confirmed")
			case cnode.GlobalNameLost:
				got = append(got, "lost:"+string(b.Reason))
			}
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// TestSuspectThenLostNeverConfirmed is the regression test for a false
// GlobalNameConfirmed: a node cut off long enough for the majority to purge
// its names, while another node registered one of them, must tell its old
// owner Suspect and then Lost after the heal, never Confirmed (its replica
// may not have applied the purge yet; confirmation asks the leader). A
// short cut-off, where nothing was purged, ends in Confirmed.
func TestSuspectThenLostNeverConfirmed(t *testing.T) {
	c := New(t, Options{Nodes: 3})
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	victim, other := (l+1)%3, (l+2)%3
	ctx := context.Background()
	nd := c.Node(victim)
	pid, signals := ownerSignals(t, nd)
	if _, err := nd.RegisterGlobal(ctx, "suspect/taken", pid, nil); err != nil {
		t.Fatal(err)
	}
	// The victim's own replica (whose watch tracks its owners) has it.
	if err := WaitFor(5*time.Second, func() error {
		_, _, err := nd.LookupGlobal(ctx, "suspect/taken")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.Freeze(victim)
	// The majority purges the victim's names; another node takes one.
	taker := spawnIdle(t, c.Node(other))
	if err := WaitFor(20*time.Second, func() error {
		_, err := c.Node(other).RegisterGlobal(ctx, "suspect/taken", taker, nil)
		return err
	}); err != nil {
		t.Fatalf("majority could not take the name: %v", err)
	}
	if err := WaitFor(10*time.Second, func() error {
		if s := signals(); len(s) == 0 || s[0] != "suspect" {
			return fmt.Errorf("signals %v", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("no suspect while cut off: %v", err)
	}
	c.Thaw(victim)
	if err := WaitFor(15*time.Second, func() error {
		s := signals()
		for _, x := range s {
			if x == "confirmed" {
				return nil // reported below
			}
		}
		if len(s) < 2 {
			return fmt.Errorf("signals %v", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := signals()
	if len(got) < 2 || got[0] != "suspect" || got[1] == "confirmed" || got[1][:5] != "lost:" {
		t.Fatalf("old owner's signals after the heal: %v (want suspect, lost:...)", got)
	}
	for _, x := range got {
		if x == "confirmed" {
			t.Fatalf("old owner was told its lost name is confirmed: %v", got)
		}
	}
	reg, _, err := nd.LookupGlobal(ctx, "suspect/taken", global.Consistent)
	if err != nil || reg.Owner != taker {
		t.Fatalf("after the heal the name is %+v (%v), want the taker %s", reg, err, taker)
	}
}
