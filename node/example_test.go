package node_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/node"
)

// newNode builds a single node for the examples.
func newNode() *node.Node {
	cfg := node.DefaultConfig()
	cfg.NodeID = "example"
	n, err := node.New(cfg)
	if err != nil {
		panic(err)
	}
	return n
}

// Spawn a process, send it a message by pid and wait for its reply.
func ExampleNode_Spawn() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	reply := make(chan string, 1)
	pid, err := n.Spawn(func(ctx context.Context, p *node.Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		reply <- fmt.Sprintf("hello, %v", m.Body)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := n.Send(ctx, pid, "world"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-reply)
	// Output: hello, world
}

// Selective receive: take the message you want, leave the rest queued in
// order.
func ExampleProcess_ReceiveMatch() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	out := make(chan []any, 1)
	pid, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
		urgent, err := p.ReceiveMatch(ctx, func(m node.Message) bool { return m.Body == "urgent" })
		if err != nil {
			return err
		}
		got := []any{urgent.Body}
		for p.Len() > 0 {
			m, _ := p.Receive(ctx)
			got = append(got, m.Body)
		}
		out <- got
		return nil
	})
	for _, m := range []string{"a", "b", "urgent"} {
		_ = n.Send(ctx, pid, m)
	}
	fmt.Println(<-out)
	// Output: [urgent a b]
}

// Monitor a process and get its exit reason in a Down message.
func ExampleProcess_Monitor() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	errCrash := errors.New("disk on fire")
	gate := make(chan struct{})
	worker, _ := n.Spawn(func(context.Context, *node.Process) error {
		<-gate
		return errCrash
	})
	done := make(chan node.Down, 1)
	_, _ = n.Spawn(func(ctx context.Context, p *node.Process) error {
		if _, err := p.Monitor(worker); err != nil {
			return err
		}
		close(gate)
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		done <- m.Body.(node.Down)
		return nil
	})
	d := <-done
	fmt.Println(d.PID == worker, errors.Is(d.Reason, errCrash))
	// Output: true true
}

// A supervisor-like process traps exits and hears why its linked worker
// died.
func ExampleWithTrapExit() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	sup := make(chan node.ExitSignal, 1)
	supPID, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		sup <- m.Body.(node.ExitSignal)
		return nil
	}, node.WithTrapExit())
	_, _ = n.Spawn(func(context.Context, *node.Process) error {
		return errors.New("bad input")
	}, node.WithLink(supPID))
	fmt.Println((<-sup).Reason)
	// Output: bad input
}

// A worker pool: workers register under one duplicate key in the node's
// Groups registry, and a dispatcher spreads tasks among them round-robin.
func Example_workerPool() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	var mu sync.Mutex
	done := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("w%d", i)
		pid, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
			for {
				m, err := p.Receive(ctx)
				if err != nil {
					return nil
				}
				_ = m.Body.(int) // the task
				mu.Lock()
				done[name]++
				mu.Unlock()
				wg.Done()
			}
		})
		_ = n.Groups().Register("pool", pid, name)
	}

	// The dispatcher: pick a worker per task, round-robin over the entries
	// sorted by their value so the example's output is stable.
	next := 0
	for task := 0; task < 9; task++ {
		wg.Add(1)
		_ = n.Groups().Dispatch("pool", func(es []local.Entry[node.PID]) {
			sort.Slice(es, func(i, j int) bool { return es[i].Value.(string) < es[j].Value.(string) })
			_ = n.Send(ctx, es[next%len(es)].PID, task)
			next++
		})
	}
	wg.Wait()
	fmt.Println(done)
	// Output: map[w0:3 w1:3 w2:3]
}

// Named workers: look a worker up by its key and send to it by name.
func Example_namedWorkers() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	replies := make(chan string, 2)
	for _, name := range []string{"billing", "shipping"} {
		_, err := n.Spawn(func(ctx context.Context, p *node.Process) error {
			for {
				m, err := p.Receive(ctx)
				if err != nil {
					return nil
				}
				replies <- name + " handled " + m.Body.(string)
			}
		}, node.WithName(name))
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	_, ok := n.Whereis("billing")
	fmt.Println("billing registered:", ok)
	_ = n.Send(ctx, node.Name("shipping"), "order-42")
	fmt.Println(<-replies)
	err := n.Send(ctx, node.Name("marketing"), "hi")
	fmt.Println(errors.Is(err, node.ErrNotFound))
	// Output:
	// billing registered: true
	// shipping handled order-42
	// true
}

// Processes register, crash, and disappear from the registry; a registry
// listener hears why.
func Example_crashAndVanish() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	events := make(chan local.Event[node.PID], 4)
	reg, _ := n.NewRegistry(local.Config[node.PID]{
		Name:      "sessions",
		Listeners: []local.Listener[node.PID]{func(e local.Event[node.PID]) { events <- e }},
	})
	crash := make(chan struct{})
	pid, _ := n.Spawn(func(context.Context, *node.Process) error {
		<-crash
		return errors.New("connection reset")
	})
	_ = reg.Register("session-1", pid, nil)
	fmt.Println((<-events).Type, reg.Count())

	close(crash)
	e := <-events
	fmt.Println(e.Type, e.Reason, e.ExitReason)
	_, _, ok := reg.Whereis("session-1")
	fmt.Println("still registered:", ok)
	// Output:
	// registered 1
	// unregistered process_exit connection reset
	// still registered: false
}

// Message.Decode works the same for local and remote messages.
func ExampleMessage_Decode() {
	type order struct {
		ID  int    `msgpack:"id"`
		SKU string `msgpack:"sku"`
	}
	m := node.Message{Body: order{ID: 1, SKU: "x"}}
	var o order
	if err := m.Decode(&o); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.ID, o.SKU)
	// Output: 1 x
}

// Register a running process under a local name, find it, and send to it by
// name; the name goes when the process does.
func ExampleNode_Register() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	got := make(chan any, 1)
	pid, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		got <- m.Body
		return nil
	})
	if err := n.Register("logger", pid); err != nil {
		fmt.Println(err)
		return
	}
	where, _ := n.Whereis("logger")
	fmt.Println(where == pid)
	err := n.Register("logger", pid)
	fmt.Println(errors.Is(err, local.ErrAlreadyRegistered))
	_ = n.Send(ctx, node.Name("logger"), "line 1")
	fmt.Println(<-got)
	// Output:
	// true
	// true
	// line 1
}

// Kill a process with Exit; its monitor hears "killed".
func ExampleNode_Exit() {
	ctx := context.Background()
	n := newNode()
	defer n.Shutdown(ctx)

	stuck, _ := n.Spawn(func(ctx context.Context, p *node.Process) error {
		<-ctx.Done() // cancelled when killed
		return nil
	})
	downs := make(chan node.Down, 1)
	ready := make(chan struct{})
	_, _ = n.Spawn(func(ctx context.Context, p *node.Process) error {
		if _, err := p.Monitor(stuck); err != nil {
			return err
		}
		close(ready)
		m, err := p.Receive(ctx)
		if err != nil {
			return err
		}
		downs <- m.Body.(node.Down)
		return nil
	})
	<-ready
	if err := n.Exit(stuck, node.Killed); err != nil {
		fmt.Println(err)
		return
	}
	d := <-downs
	fmt.Println(d.Reason, n.Alive(stuck))
	// Output: killed false
}
