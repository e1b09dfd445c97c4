package global

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestClusterMembershipChanges(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	ctx := testCtx(t, 15*time.Second)
	leader := c.tables[c.waitLeader()]
	if _, err := leader.Register(ctx, "early", pid("n1", 1, 1), nil); err != nil {
		t.Fatal(err)
	}
	follower := c.tables[c.follower()]
	i := c.add()
	extra := c.tables[i]
	if extra.HasState() {
		t.Fatal("fresh table has state")
	}
	if err := follower.AddNonvoter(ctx, extra.cfg.NodeID, extra.RaftAddr()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("AddNonvoter on a follower: %v", err)
	}
	if err := leader.AddNonvoter(ctx, extra.cfg.NodeID, extra.RaftAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error { _, _, err := extra.Lookup(ctx, "early"); return err })
	// The non-voter forwards writes like a follower.
	if _, err := extra.Register(ctx, "from-nonvoter", pid("n4", 1, 1), nil); err != nil {
		t.Fatalf("non-voter write: %v", err)
	}
	servers, err := leader.Configuration()
	if err != nil || len(servers) != 4 || !servers[3].Nonvoter {
		t.Fatalf("configuration: %+v %v", servers, err)
	}
	waitFor(t, 5*time.Second, func() error {
		if st := extra.Stats(); st.State != raft.Follower || st.AppliedIndex == 0 || st.Names != 2 {
			return fmt.Errorf("non-voter stats: %+v", st)
		}
		return nil
	})
	if err := leader.RemoveServer(ctx, extra.cfg.NodeID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		servers, err := leader.Configuration()
		if err != nil || len(servers) != 3 {
			return fmt.Errorf("configuration %+v %v", servers, err)
		}
		return nil
	})
}

func TestLeadershipNotifications(t *testing.T) {
	c := newTestCluster(t, 3, hclog.Info)
	old := c.waitLeader()
	select {
	case v := <-c.tables[old].LeaderCh():
		if !v {
			t.Fatal("leader's LeaderCh holds false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no leadership notification")
	}
	if err := c.tables[old].TransferLeadership(testCtx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if l := c.waitLeader(); l == old {
			return errors.New("leadership not transferred")
		}
		return nil
	})
	nl := c.waitLeader()
	waitFor(t, 5*time.Second, func() error {
		select {
		case v := <-c.tables[nl].LeaderCh():
			if v {
				return nil
			}
		default:
		}
		return errors.New("new leader not notified")
	})
}
