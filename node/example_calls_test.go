package node_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
)

// counter is a named process that answers calls: "incr" adds one, "get"
// returns the count, "crash" makes it fail.
func counter(ctx context.Context, p *node.Process) error {
	n := 0
	for {
		m, err := p.Receive(ctx)
		if err != nil {
			return nil
		}
		if !m.IsCall() {
			continue
		}
		switch m.Body {
		case "incr":
			n++
		case "crash":
			return errors.New("counter crashed")
		}
		_ = p.Reply(ctx, m.ReplyTo(), n)
	}
}

// Request/reply by name, then stop the process by name.
func ExampleNode_Call() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	if _, err := n.Spawn(counter, node.WithName("counter")); err != nil {
		fmt.Println(err)
		return
	}
	_, _ = n.Call(ctx, node.Name("counter"), "incr")
	got, err := node.CallAs[int](ctx, n, node.Name("counter"), "incr")
	fmt.Println(got, err)

	// Stop it by name: Stop returns once it is gone and its body returned.
	pid, _ := n.Whereis("counter")
	reason, _ := n.Stop(ctx, pid, node.Shutdown)
	_, stillThere := n.Whereis("counter")
	fmt.Println(reason, stillThere)
	// Output:
	// 2 <nil>
	// shutdown false
}

// A call with a timeout, and a callee that dies mid-call: both end at once
// with a clear error, and a late reply never reaches the caller.
func ExampleCallError() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	slow, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
		<-ctx.Done() // never answers
		return nil
	})
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := n.Call(tctx, slow, "hello?")
	fmt.Println(errors.Is(err, context.DeadlineExceeded))

	crashy, _ := n.Spawn(counter)
	_, err = n.Call(ctx, crashy, "crash")
	var ce *node.CallError
	fmt.Println(errors.As(err, &ce), ce.Reason)

	_, err = n.Call(ctx, node.Name("nobody"), "hi")
	fmt.Println(errors.Is(err, node.NoProc))
	// Output:
	// true
	// true counter crashed
	// true
}

// Unique and duplicate registries with values: spawn straight into a
// registry (Elixir's via tuple), read the values, dispatch over a group.
func ExampleWithVia() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	sessions, _ := n.NewRegistry(local.Config[node.PID]{Name: "sessions", Keys: local.Unique})
	for _, user := range []string{"ann", "bob"} {
		_, err := n.Spawn(counter,
			node.WithVia(sessions, user, "tier:"+user),     // unique key with a value
			node.WithVia(n.Groups(), "all-sessions", user)) // and a duplicate group
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	_, err := n.Spawn(counter, node.WithVia(sessions, "ann", nil))
	var started *node.AlreadyStartedError
	fmt.Println("second ann:", errors.As(err, &started))

	_, v, _ := sessions.Whereis("bob")
	fmt.Println(v)
	got, _ := node.CallAs[int](ctx, n, node.Via{Registry: sessions, Key: "ann"}, "incr")
	fmt.Println("ann:", got)

	members := 0
	_ = n.Groups().Dispatch("all-sessions", func(es []local.Entry[node.PID]) { members += len(es) })
	fmt.Println("sessions:", members)
	// Output:
	// second ann: true
	// tier:bob
	// ann: 1
	// sessions: 2
}

// A load balancer over a group: each call goes to one member, picked by a
// strategy (round robin here; Random, LeastLoaded and HashKey too).
func ExamplePool() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	for i := range 3 {
		_, _ = n.Spawn(func(ctx context.Context, p *node.Process) error {
			for {
				m, err := p.Receive(ctx)
				if err != nil {
					return nil
				}
				_ = p.Reply(ctx, m.ReplyTo(), fmt.Sprintf("worker %d did %v", i, m.Body))
			}
		}, node.WithVia(n.Groups(), "workers", nil))
	}
	pool := node.Pool{Registry: n.Groups(), Key: "workers", Strategy: node.NewRoundRobin()}
	seen := map[string]bool{}
	for task := range 6 {
		reply, err := node.CallAs[string](ctx, n, pool, task)
		if err != nil {
			fmt.Println(err)
			return
		}
		seen[reply[:8]] = true
	}
	fmt.Println(len(seen), "workers shared 6 tasks")
	// Output: 3 workers shared 6 tasks
}

// Supervised tasks: a child that crashes is restarted and registered
// again under its name before the supervisor reports it started.
func ExampleNode_StartSupervisor() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	spec := node.DefaultSupervisorSpec() // one_for_one, 3 restarts in 5s
	spec.Children = []node.ChildSpec{{ID: "counter", Start: counter, Name: "counter"}}
	sup, err := n.StartSupervisor(ctx, spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = n.Call(ctx, node.Name("counter"), "incr")
	before, _ := n.Whereis("counter")
	_, err = n.Call(ctx, node.Name("counter"), "crash")
	fmt.Println("crashed:", err != nil)

	// Wait for the restart: a new pid under the same name, fresh state.
	for {
		if pid, ok := n.Whereis("counter"); ok && pid != before {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got, _ := node.CallAs[int](ctx, n, node.Name("counter"), "get")
	fmt.Println("count after restart:", got)

	reason, _ := sup.Stop(ctx)
	_, ok := n.Whereis("counter")
	fmt.Println(reason, ok)
	// Output:
	// crashed: true
	// count after restart: 0
	// shutdown false
}
