// Package membership runs a node's gossip membership on hashicorp/memberlist:
// who is in the cluster, at which addresses, in which incarnation, and who is
// dead. It publishes each member's Meta (node id, incarnation, transport and
// Raft addresses, role, protocol version) in memberlist's NodeMeta, refuses
// peers of another cluster (memberlist's Label plus a Meta check) or with
// another gossip key (memberlist's keyring), and keeps rejoining its seeds
// so the halves of a healed partition find each other again.
//
// Membership reports changes as Events on one channel, in the order
// memberlist saw them. It is gossip only: it does not purge names, change
// Raft voters or tell the process runtime anything. The controller of the
// clustered node (package node/cluster) does that from these events.
//
// Concurrency: all methods are safe for concurrent use. memberlist calls the
// delegates from its own goroutines; they never block (events go to an
// unbounded FIFO that a pump goroutine feeds to Events in order).
//
// Usage:
//
//	m, err := membership.New(cfg)
//	if err != nil { ... }
//	defer m.Shutdown()
//	m.Join(ctx, []string{"10.0.0.1:7946"})
//	for ev := range m.Events() { ... }
package membership
