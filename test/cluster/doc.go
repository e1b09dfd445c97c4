// Package cluster holds Roster's integration and chaos tests: an
// in-process cluster harness with fault injection on every layer, a
// seeded chaos runner whose histories are checked for linearizability with
// porcupine, and (in the proc_* and compose_* files) harnesses that run the
// real clusternode binary as processes and under docker compose.
//
// # In-process harness
//
// New(t, Options{Nodes: 3}) starts real nodes — memberlist gossip, Raft on
// raft-boltdb in a temporary data dir, our TCP transport — on 127.0.0.1
// with free ports. Every layer's traffic goes through one Net (faultnet.go),
// so Partition, Freeze and Kill cut gossip, Raft and transport alike.
// Restart(i) boots a killed node on the same ports and data dir (Raft's
// stored configuration names addresses) with a new incarnation. Leader,
// WaitLeader, WaitHealthy and WaitConverged poll with deadlines. The
// cluster shuts down in t.Cleanup. Logs go through hclog into a ring that
// is written to t.Log only if the test fails; ROSTER_CHAOS_LOG=debug
// streams them live.
//
// # Chaos runs
//
// RunChaos(t, ChaosOptions{Seed: 1}) starts a cluster, runs concurrent
// clients (each a process whose pid owns the names it registers) that
// register, re-register, unregister and consistently look up a small set
// of names and send fenced probes by name, while a seeded nemesis kills,
// crashes the leader, freezes, partitions a minority or isolates the
// leader, and heals. It then heals everything, lets the replicas converge
// and checks:
//
//   - linearizability of the history (NameModel, partitioned per name):
//     writes whose outcome is unknown may take effect at any point after
//     their call; removals the table made itself (purges, process-exit
//     unregisters) enter the history from the table's event stream;
//   - every replica holds the same names, owners and fences;
//   - a killed node's names are gone from every survivor within
//     ChaosOptions.PurgeBound;
//   - every removal of a workload name has a cause (see checkEvents);
//   - every fenced probe reached the owner the sender saw with the fence.
//
// A failure prints the seed (ROSTER_CHAOS_SEED replays it), the
// violations, the nemesis log and, for a non-linearizable history, the
// offending names' operations; porcupine's HTML visualisation is written
// under artifacts/ (gitignored).
//
// # Your own service under faults
//
// The same harness runs a user's code. New gives a cluster whose nodes
// (Node(i)) the test spawns processes, singletons and groups on; a
// Schedule of steps — Partition, Isolate(LeaderNode()), OneWay, Freeze,
// Kill, Restart, Heal, on fixed nodes (Nodes), the leader or a name's
// owner (OwnerOf) at the time the step runs — is scripted or drawn from a
// seed (RandomSchedule), and Cluster.RunSchedule applies it, heals, and
// returns a log with the seed. A FencedStore stands in for the external
// resource a fenced owner writes to (it rejects older fences and records
// every write); CheckFenced checks those writes for "one owner at a time,
// fenced", and FormatWrites prints them as a history. For a model of your
// own, record operations in a History-like log and check them with
// porcupine (see NameModel and CheckLinearizable). partitionlab_test.go is
// the worked example: a fenced singleton that passes, and an unfenced one
// the check catches.
//
// # Concurrency
//
// Cluster's methods are safe for concurrent use; Cluster.mu guards the
// node slots and is never held across a node call that blocks (start,
// stop, Kill). Net.mu is taken inside node I/O and never while holding
// Cluster.mu. A run's goroutines (clients, watchers, nemesis) end before
// RunChaos returns.
//
// # Usage
//
//	func TestSomething(t *testing.T) {
//		c := cluster.New(t, cluster.Options{Nodes: 3})
//		l, _ := c.WaitLeader(10 * time.Second)
//		c.Partition([]int{l}) // isolate the leader
//		// ... writes through the majority succeed, the old leader's fail
//		c.Heal()
//		_ = c.Kill(1)
//		_ = c.Restart(1)
//	}
//
//	report := cluster.RunChaos(t, cluster.ChaosOptions{Seed: 7, Nodes: 5})
//	t.Log(report.Summary())
package cluster
