// Package cluster is the clustered Roster node: the process runtime of
// package node joined to a cluster by a TCP transport (package transport),
// the Raft-replicated global name table (package global) and memberlist
// gossip (package node/membership), plus the controller that acts on what
// gossip sees.
//
// # Shape
//
// New(Config) builds a *Node from a copy of the Config (DefaultConfig for
// a LAN server on loopback); Start joins; Leave departs gracefully and
// shuts down; Shutdown stops without a leave announcement. Node embeds the
// runtime *node.Node, so Spawn, Send, Monitor, Link, Names and the other
// runtime methods are its own; the embedded field (n.Node) is the runtime
// itself. Call Shutdown and Leave on the cluster.Node, not on the
// embedded runtime: they stop the cluster part first. An embedding
// program needs these two packages only (node for processes and
// messages, node/cluster for the cluster); global's types appear in
// results (global.Registration, global.Event) and errors.
//
// The runtime does not import this package, nor global nor gossip. It
// reaches global names through node.GlobalResolver, which *global.Table
// implements as it is, and reports the transport's peer connections to a
// node.PeerObserver (this package's linkWatch); gossip's verdict that a
// node is dead reaches it as Node.NodeDown.
//
// # Conventions
//
// Config: every package's New takes its Config by value (start from
// DefaultConfig(), which returns a value), Validate is pure (a value
// receiver; it never fills anything in), and New fills defaults on its own
// copy, so the caller's Config is never changed (global.Config is the
// exception that fills nothing: its zero numbers are invalid, so start
// from global.DefaultConfig()). Invalid configs fail with the package's
// ErrBadConfig.
//
// Lifecycle: New builds; Start(ctx) starts (idempotent; ctx bounds only
// what Start itself waits for, here the initial join); Shutdown(ctx) stops,
// is idempotent, and waits for everything it started or for ctx's end,
// whichever comes first; Leave(ctx) is the graceful Shutdown. node.Node,
// cluster.Node, global.Table and membership.Membership have Shutdown(ctx)
// (the table and gossip start in New: there is nothing to Start). The one
// exception is transport.Transport, which keeps Start() and Close(): the
// runtime owns it and calls both, bounded by its own Start and Shutdown.
//
// # What runs
//
//   - The controller (controller*.go) owns membership events: it
//     bootstraps Raft once bootstrap-expect servers are in gossip, adds
//     servers as voters or non-voters, removes voters dead for longer than
//     DeadServerGrace (never below quorum), points the transport at peers,
//     fires NodeDown, and, on the leader, purges the names of dead, departed
//     and restarted nodes (conditional on their incarnation) plus a
//     periodic reconcile. Its state belongs to one goroutine.
//     Dead-voter cleanup is our own logic (reapDeadServers in
//     controller_actions.go), not hashicorp/raft-autopilot v0.3.0, which was
//     read for the purpose: autopilot drives a *raft.Raft directly (the
//     table keeps its Raft private), needs an RPC to every server for its
//     health stats (FetchServerStats), and its StablePromoter makes every
//     stable non-voter a voter, while Roster caps voters at
//     bootstrap-expect and keeps further servers as non-voters, so it would
//     need a custom Promoter too; and it brings armon/go-metrics beside our
//     hashicorp/go-metrics. Our rule is small: remove one voter at a time,
//     only once it has been dead for DeadServerGrace (or left), only while
//     the remaining voters keep a live quorum, then promote an alive
//     non-voter if voters fell below bootstrap-expect.
//   - ownedNames (ownership.go) follows the table's watch stream and tells
//     a local process when it loses a global name it did not give up
//     (GlobalNameLost), and, while this node is cut off from the leader
//     longer than the purge grace, that its names are suspect
//     (GlobalNameSuspect, then GlobalNameConfirmed or GlobalNameLost;
//     suspect.go).
//   - globalExits (exits.go) unregisters a process's global names when it
//     exits, with a periodic sweep for a write that failed.
//   - The process groups (groups*.go; :pg-style, no Raft): one link
//     goroutine per peer incarnation sends this node's membership changes
//     in batches ("groups.*" RPCs over the transport), a full sync when the
//     peer appears or a heartbeat's digest disagrees; gossip's PeerAlive and
//     PeerGone hooks create and drop links and views, and a reconcile loop
//     compares them with gossip's members every GroupConfig.Reconcile.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. The cluster part's
// goroutines start in Start and end in Shutdown, which cancels their
// context and waits for them before it closes gossip, the table and then
// the runtime. Locks (ownedNames.mu, globalExits.mu, linkWatch.mu,
// clusterStats.mu) are leaves: none is held while another is taken or
// while calling the table, the runtime or gossip. The groups have their
// own order: groupEngine.mu, then GroupScope.mu, then groupLink.mu, then
// GroupMonitor.mu (groups.go); GroupScope.mu is held while asking the
// runtime whether a pid is alive, never while the runtime calls in.
//
// # Usage
//
//	cfg := cluster.DefaultConfig()
//	cfg.NodeID = "alpha"
//	cfg.DataDir = "/var/lib/roster"
//	cfg.BootstrapExpect = 3
//	cfg.Join = []string{"10.0.0.2:7946", "10.0.0.3:7946"}
//	n, err := cluster.New(cfg)
//	if err != nil { ... }
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Leave(ctx)
//	pid, _ := n.Spawn(worker)
//	reg, err := n.RegisterGlobal(ctx, "orders", pid, nil)
//	err = n.Send(ctx, node.Global("orders"), msg)
package cluster
