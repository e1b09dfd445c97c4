package cluster_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/cluster"
)

// Three nodes in one process form a cluster (bootstrap-expect 3), a
// process on one registers a global name, and another node sends to it by
// that name.
func Example_threeNodeCluster() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var nodes []*cluster.Node
	for _, id := range []node.NodeID{"alpha", "beta", "gamma"} {
		dir, _ := os.MkdirTemp("", "roster-example-")
		defer os.RemoveAll(dir)
		cfg := cluster.DefaultConfig()
		cfg.NodeID = id
		cfg.DataDir = dir
		cfg.BootstrapExpect = 3
		cfg.Profile = cluster.ProfileFast // one host: fast failure detection
		n, err := cluster.New(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer n.Shutdown(context.Background())
		if err := n.Start(ctx); err != nil {
			fmt.Println(err)
			return
		}
		nodes = append(nodes, n)
	}
	// Join beta and gamma to alpha's gossip address.
	for _, n := range nodes[1:] {
		if _, err := n.Join(ctx, []string{nodes[0].GossipAddr()}); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, n := range nodes {
		if err := until(ctx, n.Healthy); err != nil {
			fmt.Println("no leader:", err)
			return
		}
	}

	// A greeter on gamma, registered cluster-wide.
	done := make(chan string)
	pid, _ := nodes[2].Spawn(func(ctx context.Context, p *node.Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		var s string
		_ = m.Decode(&s) // it came over the wire: decode into our type
		done <- s
		return nil
	})
	reg, err := nodes[2].RegisterGlobal(ctx, "greeter", pid, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered with a fence:", reg.Fence > 0)

	// alpha sends by name once its replica has the registration.
	if err := until(ctx, func() bool {
		_, _, err := nodes[0].LookupGlobal(ctx, "greeter")
		return err == nil
	}); err != nil {
		fmt.Println("registration not replicated:", err)
		return
	}
	if err := nodes[0].Send(ctx, node.Global("greeter"), "hello from alpha"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-done)
	// Output:
	// registered with a fence: true
	// hello from alpha
}

// until polls cond every 10 ms until it holds or ctx ends.
func until(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
