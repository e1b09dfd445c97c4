package global_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/transport"
)

// startSingle starts and bootstraps a one-voter table in memory.
func startSingle() (*global.Table, error) {
	cfg := global.DefaultLocalConfig()
	cfg.NodeID = "n1"
	cfg.InmemStore = true
	t, err := global.New(cfg)
	if err != nil {
		return nil, err
	}
	if !t.HasState() {
		if err := t.Bootstrap([]global.Server{{ID: "n1", Address: t.RaftAddr()}}); err != nil {
			return nil, err
		}
	}
	// A real node would use LeaderCh or OnLeadershipChange; an example polls.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !t.IsLeader() {
		select {
		case <-deadline:
			return nil, errors.Join(errors.New("no leader after 10s"), t.Shutdown(context.Background()))
		case <-tick.C:
		}
	}
	return t, nil
}

func ExampleTable_Register() {
	t, err := startSingle()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	owner := transport.PID{Node: "n1", Incarnation: 42, Serial: 1}
	reg, err := t.Register(ctx, "db-primary", owner, []byte("10.0.0.5:5432"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered", reg.Name, "fence > 0:", reg.Fence > 0)

	_, err = t.Register(ctx, "db-primary", transport.PID{Node: "n1", Incarnation: 42, Serial: 2}, nil)
	var taken *global.AlreadyRegisteredError
	if errors.As(err, &taken) {
		fmt.Println("taken by", taken.Owner)
	}

	got, info, err := t.Lookup(ctx, "db-primary")
	fmt.Println(got.Owner, string(got.Meta), info.Stale, err)

	got, info, err = t.Lookup(ctx, "db-primary", global.Consistent)
	fmt.Println(got.Fence == reg.Fence, info.Consistent, err)
	// Output:
	// registered db-primary fence > 0: true
	// taken by n1.16.1
	// n1.16.1 10.0.0.5:5432 false <nil>
	// true true <nil>
}

func ExampleTable_Watch() {
	t, err := startSingle()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	events, err := t.Watch(ctx, "jobs/", 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	owner := transport.PID{Node: "n1", Incarnation: 7, Serial: 3}
	_, _ = t.Register(ctx, "jobs/nightly", owner, nil)
	n, _ := t.PurgeIncarnation(ctx, "n1", 7, global.ReasonNodeDown)
	fmt.Println("purged", n)
	for range 2 {
		e := <-events
		fmt.Println(e.Type == global.EventRegistered, e.Name, e.Reason)
	}
	// Output:
	// purged 1
	// true jobs/nightly register
	// false jobs/nightly node_down
}
