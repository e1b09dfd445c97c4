package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// TestGroupsOnClusterNodes runs the groups on real cluster nodes (TCP
// transport, gossip, fast profile): members of every node show up
// everywhere, a node that leaves takes its members along (node_left), and
// a publish reaches the members of the nodes that remain.
func TestGroupsOnClusterNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	got := make(chan node.PID, 16)
	for _, nd := range nodes {
		pid, err := nd.Spawn(func(ctx context.Context, p *node.Process) error {
			for {
				if _, err := p.Receive(ctx); err != nil {
					return nil
				}
				got <- p.PID()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.JoinGroup("chat", pid, []byte(nd.ID())); err != nil {
			t.Fatal(err)
		}
	}
	membersEverywhere := func(want int) func() error {
		return func() error {
			for _, nd := range nodes {
				if n := len(nd.GroupMembers("chat")); n != want {
					return fmt.Errorf("%s sees %d members, want %d", nd.ID(), n, want)
				}
			}
			return nil
		}
	}
	pollFor(t, 10*time.Second, membersEverywhere(3))
	mon, _, err := nodes[0].MonitorGroup(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if err := nodes[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	nodes = nodes[:2]
	select {
	case ev := <-mon.Events():
		if ev.Kind != GroupLeft || ev.Reason != GroupNodeLeft || ev.Member.PID.Node != "n3" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no leave event for the departed node's member")
	}
	pollFor(t, 10*time.Second, membersEverywhere(2))
	if n, err := nodes[0].Publish(ctx, "chat", "hello"); err != nil || n != 2 {
		t.Fatalf("published to %d: %v", n, err)
	}
	seen := map[node.NodeID]bool{}
	for len(seen) < 2 {
		select {
		case p := <-got:
			seen[p.Node] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("publish reached %v", seen)
		}
	}
	if m := nodes[0].GroupMetrics(); m.SyncsOut == 0 || m.SyncsIn == 0 || m.LocalMembers != 1 || m.RemoteMembers != 1 {
		t.Fatalf("metrics %+v", m)
	}
}
