// Package local is the node-scoped process registry: Elixir's Registry for
// Go, with unique and duplicate keys, a value per entry, match/select/count
// queries, dispatch, metadata, per-key locks, partitions, and listeners that
// hear every change with its cause, including the exit reason of an owner
// that died (Elixir's listeners hear nothing when a process crashes).
//
// The registry is generic over the pid type and imports nothing of this
// module. It learns about process liveness through the small Owners
// interface (owners.go), which node.Node implements: a pid must be live to
// register, and its entries vanish, promptly and in O(its entries), when it
// exits. Registering on behalf of another live process is allowed.
//
// # Data layout
//
// The table is split into Config.Partitions shards, each behind its own
// RWMutex. Unique and DuplicateByKey registries shard by key hash,
// DuplicateByPID by pid hash. Each shard indexes an entry by key, by
// (pid, key) and in a linked list of its pid's entries, so Unregister and
// exit cleanup cost O(entries removed) however many keys the pid holds
// (Elixir's unregister scans the pid's keys). When a shard falls below 1/8
// of its high-water mark it rebuilds its maps, so memory follows the live
// entries after a burst (Go maps never shrink on their own). The key index
// of a Unique partition is a hash table that can also be read with no lock
// (readindex.go), so Whereis and Lookup take no lock and Whereis allocates
// nothing: reads scale with cores instead of fighting over an RWMutex's
// reader count.
//
// # Concurrency contract
//
// Every method is safe for concurrent use. Lock order, outermost first:
//
//  1. partition.emitMu (held while listeners run, to keep events in order)
//  2. partition.mu (the table shard)
//  3. tracker shard mutex (owner pid → attach state)
//
// Whereis and Lookup on Unique registries take no lock at all. A writer
// takes partition.mu, changes the shard, takes emitMu, releases
// partition.mu and then calls the listeners, so listeners run outside the
// table lock but in table order per partition. The meta map and the lock
// table have their own mutexes, never held with any other.
//
// No registry lock is held while calling Owners.Attach or Owners.Detach, so
// a runtime may call OwnerExited from any goroutine at any time, even from
// inside Attach. Attach and Detach for one pid never overlap: a pid is
// attached when it gets its first entry and detached when its last goes.
// A Register racing with its owner's exit either lands first and is removed
// by the exit cleanup, or fails with ErrNoProc; it never leaves an entry
// behind.
//
// User functions: predicates (Match, Select, Count*, UnregisterMatch) and
// UpdateValue's fn run under a partition lock and must not call the
// registry; Dispatch's fn and Lock's fn run with no registry lock held;
// listeners may read but not write the registry. A user function that
// panics is a bug in the caller, but it does not wedge or corrupt the
// registry: locks are released on the way out and predicates run before
// anything changes.
//
// # Differences from Elixir's Registry
//
// Deliberate, and covered by tests:
//
//   - Listeners hear owner exits too, with the exit reason (ReasonProcessExit);
//     Elixir's listeners hear nothing when a process dies.
//   - Listeners hear one event per removed entry: unregistering a key under
//     which a pid holds three entries of a duplicate registry emits three
//     Unregistered events (Elixir sends one message per key).
//   - A Lock held by a process that is killed (node.Exit with node.Killed)
//     is released only when its fn returns: Go cannot stop a goroutine, so
//     the killed process's code runs on until it returns or next blocks on
//     the runtime. Elixir releases the lock when the process dies.
//   - Unregister reports ErrNotFound and ErrNotOwner where Elixir returns
//     :ok; Register may register on behalf of another live process (Elixir
//     registers only self()).
//
// A unique key whose owner has exited is free at once, even while the
// owner's exit cleanup is still on its way (Owners implementing
// ExitedOwners, as node.Node does): a process looping on Register while the
// owner is killed wins as soon as the kill returns.
//
// # Usage
//
//	reg, err := local.New(local.Config[transport.PID]{
//		Name:       "workers",
//		Keys:       local.DuplicateByPID,
//		Partitions: runtime.GOMAXPROCS(0),
//		Owners:     n, // a node.Node
//		Listeners:  []local.Listener[transport.PID]{func(ev local.Event[transport.PID]) {
//			log.Printf("%s %s %v: %s %v", ev.Type, ev.Key, ev.PID, ev.Reason, ev.ExitReason)
//		}},
//	})
//	if err != nil { ... }
//	err = reg.Register("jobs", self, nil)
//	err = reg.Dispatch("jobs", func(es []local.Entry[transport.PID]) {
//		for _, e := range es { n.Send(e.PID, job) }
//	})
package local
