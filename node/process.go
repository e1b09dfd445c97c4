package node

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/roster-dev/roster/local"
)

// ProcessFunc is the body of a process. It runs on its own goroutine; its
// return value is the exit reason (nil means Normal). ctx is cancelled when
// the process is killed (an exit signal, Node.Exit) or the node shuts down;
// the function should then return promptly. A panic is recovered and becomes
// a *PanicError exit reason.
type ProcessFunc func(ctx context.Context, p *Process) error

// Process is a running process: a goroutine with a mailbox. Its methods are
// meant to be called from the process's own goroutine (like Erlang's
// self()-scoped BIFs); they are race-free from any goroutine, but only one
// goroutine may receive at a time.
type Process struct {
	node *Node
	pid  PID
	mb   mailbox
	ctx  procCtx
	trap atomic.Bool
	dead atomic.Bool // set once, under mu, when the process exits
	// calls counts the process's Calls in flight, so that its exit ends
	// them (see failCallsOf) and a waiting caller needs no second channel.
	calls atomic.Int32

	mu        sync.Mutex
	exited    bool
	reason    error
	links     map[PID]struct{}
	watchers  map[monKey]struct{}             // monitors of this process
	owned     map[Ref]struct{}                // monitors this process holds
	listeners map[local.ExitListener[PID]]int // Attach counts
	returned  bool                            // the body has returned (or never ran)
	cleaned   bool                            // terminate has told the exit listeners
	gonec     chan struct{}                   // made by Wait; closed once returned and cleaned
}

// SpawnOption configures Spawn.
type SpawnOption func(*spawnOptions)

type spawnOptions struct {
	mailbox MailboxConfig
	trap    bool
	links   []PID
	names   []string
	vias    []viaReg
}

// WithMailbox bounds the new process's mailbox (default: Config.DefaultMailbox).
func WithMailbox(c MailboxConfig) SpawnOption {
	return func(o *spawnOptions) { o.mailbox = c }
}

// WithTrapExit starts the process trapping exits: exit signals from linked
// processes arrive as ExitSignal messages instead of killing it.
func WithTrapExit() SpawnOption { return func(o *spawnOptions) { o.trap = true } }

// WithLink links the new process to pid before it runs (Erlang spawn_link).
// Spawn fails with ErrNoProc if pid is a dead local process.
func WithLink(pid PID) SpawnOption {
	return func(o *spawnOptions) { o.links = append(o.links, pid) }
}

// WithName registers the new process under name in the node's Names
// registry before it runs. Spawn fails (and the process never runs) if the
// name is taken, with an *AlreadyStartedError naming the holder.
func WithName(name string) SpawnOption {
	return func(o *spawnOptions) { o.names = append(o.names, name) }
}

// Spawn starts fn as a new process and returns its PID. Options apply
// before fn runs: a process spawned WithName is findable by name, and one
// spawned WithLink is linked, by the time Spawn returns.
func (n *Node) Spawn(fn ProcessFunc, opts ...SpawnOption) (PID, error) {
	if fn == nil {
		return PID{}, fmt.Errorf("%w: spawn", ErrNilFunc)
	}
	o := spawnOptions{mailbox: n.cfg.DefaultMailbox}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := o.mailbox.Validate(); err != nil {
		return PID{}, err
	}
	p := &Process{node: n}
	p.mb.init(o.mailbox)
	p.pid = PID{Node: n.id, Incarnation: n.inc, Serial: n.serial.Add(1)}
	p.trap.Store(o.trap)

	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return PID{}, ErrShutdown
	}
	n.procs[p.pid.Serial] = p
	n.wg.Add(1)
	n.mu.Unlock()
	n.stats.spawned.Add(1)

	if err := p.applyOptions(&o); err != nil {
		p.settle(true) // the body never runs
		p.terminate(err)
		n.wg.Done()
		return PID{}, err
	}
	go p.run(fn)
	return p.pid, nil
}

// applyOptions names and links a process that has not started yet. Names
// come first: a taken name then fails the spawn before any link exists, so
// the would-be linked process hears nothing of the failed spawn.
func (p *Process) applyOptions(o *spawnOptions) error {
	for _, name := range o.names {
		if err := p.node.names.Register(name, p.pid, nil); err != nil {
			return alreadyStarted(fmt.Errorf("node: spawn: name %q: %w", name, err))
		}
	}
	if err := p.applyVias(o.vias); err != nil {
		return err
	}
	for _, l := range o.links {
		if err := p.Link(l); err != nil {
			return fmt.Errorf("node: spawn: link %s: %w", l, err)
		}
	}
	return nil
}

// run is the process goroutine.
func (p *Process) run(fn ProcessFunc) {
	defer p.node.wg.Done()
	reason := p.call(fn)
	p.terminate(reason) // a no-op if it was killed
	p.settle(true)
}

// call runs fn, turning a nil return into Normal and a panic into a
// *PanicError.
func (p *Process) call(fn ProcessFunc) (reason error) {
	defer func() {
		if v := recover(); v != nil {
			reason = &PanicError{Value: v, Stack: debug.Stack()}
			p.node.logger.Error("process panicked", "pid", p.pid, "panic", v)
		}
	}()
	if err := fn(&p.ctx, p); err != nil {
		return err
	}
	return Normal
}

// PID returns the process's pid.
func (p *Process) PID() PID { return p.pid }

// Node returns the node the process runs on.
func (p *Process) Node() *Node { return p.node }

// Alive reports whether the process has not exited.
func (p *Process) Alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.exited
}

// Receive returns the oldest message in the mailbox, waiting until one
// arrives or ctx is done (ctx's error) or the process exits (ErrExited).
// Use context.WithTimeout for Erlang's "after".
func (p *Process) Receive(ctx context.Context) (Message, error) {
	return p.mb.receive(p.waitCtx(ctx), nil)
}

// waitCtx returns the context a receive must watch. The process's own ctx
// needs no watching: a kill closes the mailbox, which wakes the receiver,
// and a receive that watches one channel instead of two is cheaper.
func (p *Process) waitCtx(ctx context.Context) context.Context {
	if c, ok := ctx.(*procCtx); ok && c == &p.ctx {
		return context.Background()
	}
	return ctx
}

// ReceiveMatch is selective receive: it returns the oldest message for
// which match returns true, leaving the others queued in their order (like
// Erlang's receive with patterns). match runs with the mailbox locked: it
// must be quick and must not call the process's methods. A nil match
// returns ErrNilFunc.
func (p *Process) ReceiveMatch(ctx context.Context, match func(Message) bool) (Message, error) {
	if match == nil {
		return Message{}, fmt.Errorf("%w: receive match", ErrNilFunc)
	}
	return p.mb.receive(p.waitCtx(ctx), match)
}

// Len returns the number of messages in the mailbox.
func (p *Process) Len() int { return p.mb.len() }

// TrapExit sets whether exit signals from linked processes (and Node.Exit
// with a reason other than Killed) arrive as ExitSignal messages instead of
// killing the process.
func (p *Process) TrapExit(on bool) { p.trap.Store(on) }

// Send sends msg to the destination with From set to this process. See
// Node.Send.
func (p *Process) Send(ctx context.Context, to Dest, msg any) error {
	if p.dead.Load() {
		return ErrExited
	}
	return p.node.send(ctx, p.pid, to, msg)
}

// deliver puts m into the mailbox, counting it.
func (p *Process) deliver(m Message) error {
	ok, full, droppedOld := p.mb.push(m)
	n := p.node
	if droppedOld {
		n.stats.dropped.Add(1)
	}
	if !ok {
		n.stats.dropped.Add(1)
		if full {
			return fmt.Errorf("%w: %s", ErrMailboxFull, p.pid)
		}
		return fmt.Errorf("%w: %s", ErrNoProc, p.pid)
	}
	n.stats.in.Add(1)
	return nil
}
