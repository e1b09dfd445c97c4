// Package node is a Roster node: it runs processes (goroutines with
// mailboxes, identified by never-reused PIDs), routes messages and signals
// between them locally and over a transport.Transport to other nodes, and
// owns the node's local name registries (package local).
//
// # Processes
//
// Spawn starts a ProcessFunc on its own goroutine with a mailbox. The
// process receives with Receive or, selectively, with ReceiveMatch (Erlang's
// receive with patterns: unmatched messages stay queued in order). Its exit
// reason is what the function returns (nil: Normal), a *PanicError, or the
// reason of the exit signal that killed it (Killed, Shutdown, a linked
// process's error, NoConnection, ...). Reasons are errors compared with
// errors.Is.
//
// Monitor gives a Down message when the target exits (NoProc at once if it
// is already dead). Link ties two processes: an abnormal exit of one kills
// the other, unless it traps exits (TrapExit), in which case it gets an
// ExitSignal message. Node.Exit is erlang:exit/2; Killed cannot be trapped.
// Remote monitors and links travel over the transport; they fire with
// NoConnection when the transport reports the peer down, and with NodeDown
// when the clustered node (package node/cluster), whose gossip declared
// the peer dead, calls Node.NodeDown.
//
// # Messages
//
// Local sends pass the Go value itself (no copy, no encoding: the sender
// must not mutate it afterwards). Remote sends msgpack-encode it. The
// receiver decodes each remote body once, on arrival: into the same Go type
// when that type is registered on both nodes (RegisterType[T], under the
// same wire name), so `switch m.Body.(type)` works whatever the sender's
// node; otherwise into the generic form (string, int64, []any,
// map[string]any...). Message.Decode stores any message's body in a typed
// variable, local or remote. A remote message naming a type the receiver
// has not registered, or whose body is not valid msgpack (declared lengths
// and nesting are checked before any decoder sees it) or does not decode
// into its registered type, is dropped, logged and counted in
// Stats.Dropped; the connection and the node carry on. Mailboxes are
// unbounded by default; a bounded one
// drops the newest (sender gets ErrMailboxFull) or the oldest message. A
// message for a dead pid, or for a pid of an older incarnation of a node,
// is dropped: a synchronous local send gets ErrNoProc.
//
// # Calls
//
// Call (Node.Call from plain Go code, Process.Call from a process) sends a
// request to any Dest and waits for the callee's Reply; CallAs decodes the
// reply into a type. The callee sees a message for which IsCall is true and
// answers with Reply(ctx, m.ReplyTo(), reply); a ReplyTo is a plain value
// it may hand to another process, on any node (OTP's From). For the call's
// duration the callee is monitored: its exit (or absence: NoProc), its
// node's loss (NoConnection, NodeDown) or a stale fence ends the call at
// once with a *CallError or ErrStaleFence; ctx's end with ctx's error. The
// caller waits on an alias (alias.go): once it gave up, the alias is gone
// and a late reply is dropped, never delivered to a mailbox; a reply to a
// caller that is gone is not an error, locally or remotely. Across nodes a
// call is one KindCall envelope (request plus monitor) and one KindReply
// (answer plus demonitor), like a send and its answer. Monitor also takes a
// RemoteName, resolved by its node (Down with NoProc if the name is not
// there).
//
// # Supervisors
//
// StartSupervisor runs a supervisor process over ChildSpecs: strategies
// OneForOne, OneForAll, RestForOne and Dynamic (StartChild /
// TerminateChild), restart types Permanent, Transient and Temporary, a
// restart intensity (Intensity restarts in Period, then the supervisor
// stops its children and exits with a *SupervisorError), ordered start and
// reverse-ordered shutdown (Exit with Shutdown, then Killed after the
// child's Shutdown time), supervisors as children (SupervisorBody). A child
// may carry a local name, a via registration (any local.Registry) or a
// global name (through a GlobalRegistrar, the clustered node); it is
// registered on every start before its body runs, and before the
// replacement starts the old body has returned (Wait) and, for a global
// name, the old registration is gone.
//
// What a kill means in Go: after Exit(pid, Killed) the pid is dead and its
// names are gone, but its goroutine runs until its function returns (its
// ctx is cancelled and every runtime call fails with ErrExited). Wait and
// Stop return only once the body returned.
//
// # Names
//
// Names() is a unique local.Registry and Groups() a duplicate one, both
// bound to the node's processes (entries vanish when their process exits;
// the node implements local.Owners and local.ExitedOwners, so a name whose
// owner has just died is free at once). Config.NameListeners and
// GroupListeners hear their changes. WithName and WithVia register a new
// process before it runs (an *AlreadyStartedError if taken); Via{Registry,
// Key} addresses a process through any unique registry, and Pool{Registry,
// Key, Strategy} one member of a group (RoundRobin, Random, LeastLoaded by
// mailbox length, HashKey). Send accepts a PID, a Name, a
// RemoteName, or a Global/GlobalFenced name once a GlobalResolver is wired
// in (Config.Global or SetGlobal).
//
// # The cluster is another package
//
// This package is the process runtime and knows nothing of Raft or gossip
// (a test checks its import graph). The clustered node, package
// node/cluster, composes it with the global name table, gossip and the TCP
// transport, and reaches it through three small seams: a GlobalResolver
// (*global.Table as it is) for sends by global name and inbound fence
// checks, a PeerObserver (Config.Peers) that hears the transport's peer
// connections come up and break, and Node.NodeDown, which gossip's verdict
// calls.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Process methods are
// meant for the process's own goroutine; only one goroutine may receive
// from a mailbox at a time. Transport callbacks (HandleEnvelope, PeerUp,
// PeerDown) never block: deliveries take a mailbox lock and signals to other
// nodes go through an outbox drained by one goroutine, in order.
//
// Lock order: the process runtime has none to get wrong, because none of
// its locks is taken while another is held. Node.mu (the process table), Node.monMu
// (the monitor table), Process.mu (links, monitors, exit listeners) and
// mailbox.mu (the queue) are all leaves; code copies what it needs under
// one lock, releases it, then takes the next. Exit listeners (registries),
// Down and exit-signal delivery and transport sends run with no node lock
// held, so a listener may call back into the node. A ReceiveMatch match
// function runs under mailbox.mu and must not call the process. A process
// exit runs, in order: mark dead, cancel ctx, discard the mailbox, call
// exit listeners (registries drop its names), remove it from the table,
// fire monitors of it, drop monitors it holds, signal its links.
//
// # Usage
//
//	n, err := node.New(node.DefaultConfig())
//	if err != nil { ... }
//	defer n.Shutdown(ctx)
//	pid, err := n.Spawn(func(ctx context.Context, p *node.Process) error {
//		m, err := p.Receive(ctx)
//		if err != nil {
//			return err
//		}
//		fmt.Println("got", m.Body)
//		return nil
//	}, node.WithName("greeter"))
//	err = n.Send(ctx, node.Name("greeter"), "hello")
package node
