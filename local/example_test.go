package local_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/roster-dev/roster/local"
)

// A worker pool: workers register under one duplicate key with their inbox
// as the value, and a dispatcher spreads tasks among them round-robin.
func ExampleRegistry_Dispatch() {
	type inbox struct {
		name  string
		tasks []int
	}
	rt := newRuntime()
	reg, _ := local.New(local.Config[pid]{Name: "pools", Keys: local.DuplicateByKey, Owners: rt})

	var inboxes []*inbox
	for _, name := range []string{"w1", "w2", "w3"} {
		in := &inbox{name: name}
		inboxes = append(inboxes, in)
		_ = reg.Register("resize-pool", rt.Spawn(), in)
	}

	for task := range 9 {
		_ = reg.Dispatch("resize-pool", func(es []local.Entry[pid]) {
			in := es[task%len(es)].Value.(*inbox)
			in.tasks = append(in.tasks, task) // a real inbox would Send
		})
	}
	for _, in := range inboxes {
		fmt.Println(in.name, "got", len(in.tasks), "tasks")
	}
	// Output:
	// w1 got 3 tasks
	// w2 got 3 tasks
	// w3 got 3 tasks
}

// Named workers looked up by key, Elixir's {:via, Registry, ...} names.
func ExampleRegistry_Whereis() {
	rt := newRuntime()
	reg, _ := local.New(local.Config[pid]{Name: "names", Owners: rt})

	billing := rt.Spawn()
	_ = reg.Register("billing", billing, "v2")

	if p, version, ok := reg.Whereis("billing"); ok {
		fmt.Println("billing is", p, "running", version)
	}
	if _, _, ok := reg.Whereis("shipping"); !ok {
		fmt.Println("shipping is not registered")
	}

	// A second process cannot take the name while billing holds it.
	err := reg.Register("billing", rt.Spawn(), "v3")
	var taken *local.AlreadyRegisteredError[pid]
	if errors.As(err, &taken) {
		fmt.Println("billing already held by", taken.Owner)
	}
	// Output:
	// billing is 1 running v2
	// shipping is not registered
	// billing already held by 1
}

// Processes register, crash and vanish from the registry; the listener
// hears why each entry went.
func ExampleListener() {
	rt := newRuntime()
	reg, _ := local.New(local.Config[pid]{
		Name:   "jobs",
		Owners: rt,
		Listeners: []local.Listener[pid]{func(ev local.Event[pid]) {
			fmt.Printf("%s %q pid %d cause %s reason %v\n", ev.Type, ev.Key, ev.PID, ev.Reason, ev.ExitReason)
		}},
	})

	a, b := rt.Spawn(), rt.Spawn()
	_ = reg.Register("job-a", a, nil)
	_ = reg.Register("job-b", b, nil)
	_ = reg.Unregister("job-a", a)
	rt.Exit(b, errors.New("disk full"))

	fmt.Println("entries left:", reg.Count())
	err := reg.Register("job-b", b, nil)
	fmt.Println("re-register dead pid:", errors.Is(err, local.ErrNoProc))
	// Output:
	// registered "job-a" pid 1 cause register reason <nil>
	// registered "job-b" pid 2 cause register reason <nil>
	// unregistered "job-a" pid 1 cause unregister reason <nil>
	// unregistered "job-b" pid 2 cause process_exit reason disk full
	// entries left: 0
	// re-register dead pid: true
}

func ExampleNew() {
	reg, err := local.New(local.Config[pid]{Name: "topics", Keys: local.DuplicateByPID, Partitions: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.Kind(), reg.Partitions())

	_, err = local.New(local.Config[pid]{Partitions: -1})
	fmt.Println(errors.Is(err, local.ErrBadConfig))
	// Output:
	// duplicate_by_pid 4
	// true
}

func ExampleRegistry_Select() {
	reg, _ := local.New(local.Config[pid]{Keys: local.DuplicateByKey})
	_ = reg.Register("room:1", 1, "alice")
	_ = reg.Register("room:1", 2, "bob")
	_ = reg.Register("room:2", 3, "carol")

	es, _ := reg.Select(func(key string, _ pid, _ any) bool { return key == "room:1" })
	var who []string
	for _, e := range es {
		who = append(who, e.Value.(string))
	}
	sort.Strings(who)
	fmt.Println(who)
	n, _ := reg.CountMatch("room:1", func(v any) bool { return v == "bob" })
	fmt.Println(n, reg.Count())
	// Output:
	// [alice bob]
	// 1 3
}

func ExampleRegistry_UnregisterMatch() {
	reg, _ := local.New(local.Config[pid]{Keys: local.DuplicateByPID})
	for _, v := range []int{1, 2, 3, 4} {
		_ = reg.Register("subs", 7, v)
	}
	n, _ := reg.UnregisterMatch("subs", 7, func(v any) bool { return v.(int) > 2 })
	vals := reg.Values("subs", 7)
	slices.SortFunc(vals, func(a, b any) int { return a.(int) - b.(int) })
	fmt.Println(n, vals, reg.Keys(7))
	// Output:
	// 2 [1 2] [subs subs]
}

func ExampleRegistry_UpdateValue() {
	reg, _ := local.New(local.DefaultConfig[pid]())
	_ = reg.Register("counter", 1, 0)
	newV, oldV, _ := reg.UpdateValue("counter", 1, func(old any) any { return old.(int) + 1 })
	fmt.Println(newV, oldV)
	_, _, err := reg.UpdateValue("counter", 2, func(old any) any { return 0 })
	fmt.Println(errors.Is(err, local.ErrNotOwner))
	// Output:
	// 1 0
	// true
}

func ExampleRegistry_Lock() {
	reg, _ := local.New(local.DefaultConfig[pid]())
	// Check-then-register under a lock so two starters cannot race.
	start := func(p pid) {
		_ = reg.Lock(context.Background(), "start:cache", func() {
			if _, _, ok := reg.Whereis("cache"); !ok {
				_ = reg.Register("cache", p, nil)
				fmt.Println(p, "started the cache")
			}
		})
	}
	start(1)
	start(2)
	// Output:
	// 1 started the cache
}

func ExampleRegistry_PutMeta() {
	reg, _ := local.New(local.DefaultConfig[pid]())
	_ = reg.PutMeta("owner", "payments-team")
	v, ok := reg.Meta("owner")
	fmt.Println(v, ok)
	reg.DeleteMeta("owner")
	_, ok = reg.Meta("owner")
	fmt.Println(ok)
	// Output:
	// payments-team true
	// false
}

// Duplicate keys: subscribers of a topic, found with Lookup and Match.
func ExampleRegistry_Lookup() {
	reg, _ := local.New(local.Config[pid]{Keys: local.DuplicateByPID, Partitions: 2})
	_ = reg.Register("topic:prices", 1, "eur")
	_ = reg.Register("topic:prices", 2, "usd")
	_ = reg.Register("topic:prices", 3, "eur")

	fmt.Println(len(reg.Lookup("topic:prices")), "subscribers")
	eur, _ := reg.Match("topic:prices", func(v any) bool { return v == "eur" })
	var ps []int
	for _, e := range eur {
		ps = append(ps, int(e.PID))
	}
	sort.Ints(ps)
	fmt.Println("eur:", ps)
	// Output:
	// 3 subscribers
	// eur: [1 3]
}

// Unregister only touches the caller's own entries.
func ExampleRegistry_Unregister() {
	reg, _ := local.New(local.DefaultConfig[pid]())
	_ = reg.Register("leader", 1, nil)

	err := reg.Unregister("leader", 2)
	fmt.Println(errors.Is(err, local.ErrNotOwner))
	fmt.Println(reg.Unregister("leader", 1))
	err = reg.Unregister("leader", 1)
	fmt.Println(errors.Is(err, local.ErrNotFound))
	// Output:
	// true
	// <nil>
	// true
}
