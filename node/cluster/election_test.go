package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// TestCampaignElectsOneAndHandsOver: three nodes campaign for one name:
// one wins, the others block; a follower's Observe sees the winner;
// Resign elects another with a larger fence; the winner's node shutting
// down ends its leadership (Done) and elects the last one.
func TestCampaignElectsOneAndHandsOver(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs, err := nodes[2].Observe(ctx, "lead/x")
	if err != nil {
		t.Fatal(err)
	}
	type won struct {
		l   *Leadership
		err error
		by  node.NodeID
	}
	results := make(chan won, 3)
	for _, nd := range nodes {
		go func() {
			l, err := nd.Campaign(ctx, "lead/x", []byte(nd.ID()))
			results <- won{l, err, nd.ID()}
		}()
	}
	first := <-results
	if first.err != nil {
		t.Fatal(first.err)
	}
	select {
	case w := <-results:
		t.Fatalf("two leaders at once: %s and %s (err %v)", first.by, w.by, w.err)
	case <-time.After(500 * time.Millisecond):
	}
	pollFor(t, 5*time.Second, func() error {
		select {
		case o := <-obs:
			if o.Held && o.Fence == first.l.Fence() && o.Owner == first.l.PID() {
				return nil
			}
			return errors.New("observed another holder")
		default:
			return errors.New("no observation yet")
		}
	})
	if err := first.l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(first.l.Err(), ErrResigned) {
		t.Fatalf("resigned leadership's Err: %v", first.l.Err())
	}
	second := <-results
	if second.err != nil || second.l.Fence() <= first.l.Fence() {
		t.Fatalf("second leader %+v (err %v): fence must grow past %d", second.l, second.err, first.l.Fence())
	}
	var owner *Node
	for _, nd := range nodes {
		if nd.ID() == second.by {
			owner = nd
		}
	}
	start := time.Now()
	if err := owner.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("leadership of a shut-down node not ended")
	}
	third := <-results
	if third.err != nil || third.l.Fence() <= second.l.Fence() {
		t.Fatalf("third leader: %v (err %v)", third.l, third.err)
	}
	t.Logf("leader's node stopped -> next leader elected after %v (fast profile)", time.Since(start).Round(time.Millisecond))
	select {
	case <-third.l.Done():
		t.Fatalf("third leadership ended: %v", third.l.Err())
	default:
	}
}

// TestCampaignBadInput: a bad name is refused; a cancelled campaign
// returns ctx's error and leaves no holder behind.
func TestCampaignBadInput(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	if _, err := nodes[0].Campaign(ctx, "", nil); err == nil {
		t.Fatal("empty name accepted")
	}
	l, err := nodes[0].Campaign(ctx, "lead/y", nil)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := nodes[0].Campaign(short, "lead/y", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked campaign: %v", err)
	}
	procs := nodes[0].Processes()
	if err := l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 5*time.Second, func() error {
		if p := nodes[0].Processes(); p >= procs {
			return errors.New("holder still running")
		}
		return nil
	})
}
