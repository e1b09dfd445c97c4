package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/roster-dev/roster/transport"
)

// ReplyTo says where the answer to a call goes: the caller and the alias its
// Call waits on (OTP's From in handle_call). It is a plain value: a callee
// may hand it to another process, on any node, which answers with Reply.
// The zero ReplyTo is "not a call".
type ReplyTo struct {
	Caller PID `msgpack:"c"` // the calling process (Serial 0: plain Go code on Caller.Node)
	Ref    Ref `msgpack:"r"` // the call's alias
}

// IsZero reports whether r is the zero ReplyTo.
func (r ReplyTo) IsZero() bool { return r == ReplyTo{} }

// CallError ends a Call whose callee exited, or was not there, before it
// replied. It errors.Is-matches its Reason (NoProc for a dead or unknown
// callee, NoConnection or NodeDown when the callee's node went, or the
// callee's own exit reason) and Err, the lookup error when the destination
// did not resolve (e.g. ErrNotFound).
type CallError struct {
	Dest   string // the destination given to Call, printed (see DestString)
	PID    PID    // the callee, when known
	Reason error  // why the call ended
	Err    error  // the resolution error, if any
}

// Error implements error.
func (e *CallError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("node: call %s: %v (%v)", e.Dest, e.Reason, e.Err)
	}
	if !e.PID.IsZero() && e.PID.Serial != 0 {
		return fmt.Sprintf("node: call %s: callee %s exited: %v", e.Dest, e.PID, e.Reason)
	}
	return fmt.Sprintf("node: call %s: %v", e.Dest, e.Reason)
}

// Unwrap returns Reason and Err, for errors.Is and errors.As.
func (e *CallError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// DestString prints a destination for errors and logs: a pid's compact
// form, a name, "name@node" for a RemoteName, "global:name" (with
// "#fence"), "via:registry/key". It does not make to escape, so a Call's
// Dest costs no allocation.
func DestString(to Dest) string {
	switch d := to.(type) {
	case PID:
		return d.String()
	case Name:
		return string(d)
	case RemoteName:
		return d.Name + "@" + string(d.Node)
	case Global:
		return "global:" + string(d)
	case GlobalFenced:
		return "global:" + d.Name + "#" + strconv.FormatUint(d.Fence, 10)
	case Via:
		if d.Registry == nil {
			return "via:<nil>/" + d.Key
		}
		return "via:" + d.Registry.Name() + "/" + d.Key
	case Pool:
		if d.Registry == nil {
			return "pool:<nil>/" + d.Key
		}
		return "pool:" + d.Registry.Name() + "/" + d.Key
	case nil:
		return "<nil>"
	}
	return "<" + reflect.TypeOf(to).String() + ">"
}

// Wire codes of a KindDown that answers a call the callee's node could not
// deliver although the callee lives. They are not exit reasons.
const (
	callCodeStaleFence  = "stale_fence"
	callCodeMailboxFull = "mailbox_full"
	callCodeBadRequest  = "bad_request" // the request did not decode there
)

// Caller is what can make calls: *Node (plain Go code) and *Process.
type Caller interface {
	Call(ctx context.Context, to Dest, request any) (Message, error)
}

var (
	_ Caller = (*Node)(nil)
	_ Caller = (*Process)(nil)
)

// CallAs calls to with request through c and decodes the reply into an R
// (see Message.Decode), for callers who know the reply's type.
func CallAs[R any](ctx context.Context, c Caller, to Dest, request any) (R, error) {
	var r R
	m, err := c.Call(ctx, to, request)
	if err != nil {
		return r, err
	}
	err = m.Decode(&r)
	return r, err
}

// Call sends request to the destination (any Dest) and waits for the
// callee's Reply, from plain Go code: no process is spawned for it. The
// reply's From is the replier and Decode works on it as on any message.
//
// The call monitors the callee while it waits: if the callee exits, or is
// not there (a dead pid, an unregistered name, local or on another node),
// Call returns a *CallError with the reason at once (NoProc, the callee's
// exit reason, NoConnection or NodeDown when its node goes). When ctx ends
// first it returns ctx's error (context.DeadlineExceeded for a timeout). A
// GlobalFenced call to a name now held under another registration fails
// with ErrStaleFence, from this node or from the owner's. Once Call has
// returned, a reply that arrives late is dropped: it reaches no mailbox.
//
// The callee sees the request as a message for which IsCall is true and
// answers with Reply(ctx, m.ReplyTo(), reply).
func (n *Node) Call(ctx context.Context, to Dest, request any) (Message, error) {
	return n.call(ctx, nil, to, request)
}

// Call is Node.Call made by the process: the request's From is p, and the
// call also ends (with ErrExited) if p is killed meanwhile. Replies never
// go through p's mailbox, so Call leaves queued messages alone.
func (p *Process) Call(ctx context.Context, to Dest, request any) (Message, error) {
	if p.dead.Load() {
		return Message{}, ErrExited
	}
	return p.node.call(ctx, p, to, request)
}

// Reply answers the call to (from Message.ReplyTo of the request) with
// reply, with a zero From. A caller that is gone (it gave up, exited, or its
// node restarted) is not an error: the reply is dropped, locally and across
// nodes alike. A zero to fails with ErrNotCall; an unencodable reply to a
// remote caller with ErrEncode.
func (n *Node) Reply(ctx context.Context, to ReplyTo, reply any) error {
	return n.reply(ctx, PID{}, to, reply)
}

// Reply is Node.Reply with From set to p.
func (p *Process) Reply(ctx context.Context, to ReplyTo, reply any) error {
	return p.node.reply(ctx, p.pid, to, reply)
}

// pseudoPID stands for plain Go code calling from this node: Serial 0 is
// never a process, so nothing else can receive what is sent to it.
func (n *Node) pseudoPID() PID { return PID{Node: n.id, Incarnation: n.inc} }

// callTarget is a resolved call destination.
type callTarget struct {
	pid   PID    // the callee; zero for a name on another node
	node  NodeID // the node of a RemoteName
	name  string // a RemoteName's name on node
	gname string // the global name the call was made by
	fence uint64 // the fence of that name's registration
}

// resolveCall turns a Dest into a call target.
func (n *Node) resolveCall(ctx context.Context, to Dest) (callTarget, error) {
	notThere := func(err error) (callTarget, error) {
		if errors.Is(err, ErrNoGlobal) || errors.Is(err, ErrBadDest) {
			return callTarget{}, err
		}
		return callTarget{}, &CallError{Dest: DestString(to), Reason: NoProc, Err: err}
	}
	switch d := to.(type) {
	case PID:
		if d.IsZero() {
			return callTarget{}, &CallError{Dest: DestString(to), Reason: NoProc, Err: errors.New("zero pid")}
		}
		return callTarget{pid: d}, nil
	case Name:
		pid, err := n.whereisName(string(d))
		if err != nil {
			return notThere(err)
		}
		return callTarget{pid: pid}, nil
	case RemoteName:
		if d.Node != n.id {
			return callTarget{node: d.Node, name: d.Name}, nil
		}
		pid, err := n.whereisName(d.Name)
		if err != nil {
			return notThere(err)
		}
		return callTarget{pid: pid}, nil
	case Global, GlobalFenced:
		name, want := string(""), uint64(0)
		if g, ok := d.(Global); ok {
			name = string(g)
		} else {
			name, want = d.(GlobalFenced).Name, d.(GlobalFenced).Fence
		}
		pid, fence, err := n.lookupGlobal(ctx, name)
		if err != nil {
			return notThere(err)
		}
		if want != 0 && fence != want {
			return callTarget{}, fmt.Errorf("%w: %q is at fence %d, not %d", ErrStaleFence, name, fence, want)
		}
		return callTarget{pid: pid, gname: name, fence: fence}, nil
	case Via:
		pid, err := n.resolveVia(d)
		if err != nil {
			return notThere(err)
		}
		return callTarget{pid: pid}, nil
	case Pool:
		pid, err := n.PickMember(d)
		if err != nil {
			return notThere(err)
		}
		return callTarget{pid: pid}, nil
	default:
		return callTarget{}, badDest(to)
	}
}

// call runs a Call for self (nil: plain Go code).
func (n *Node) call(ctx context.Context, self *Process, to Dest, request any) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	tg, err := n.resolveCall(ctx, to)
	if err != nil {
		return Message{}, err
	}
	caller := n.pseudoPID()
	if self != nil {
		caller = self.pid
	}
	if tg.pid == caller {
		return Message{}, fmt.Errorf("%w: call", ErrSelf)
	}
	ref := Ref(n.refs.Add(1))
	pc := pendingPool.Get().(*pendingCall)
	pc.caller, pc.target = caller, tg.pid
	if tg.pid.IsZero() {
		pc.target = PID{Node: tg.node}
	}
	if self != nil {
		// Either terminate's failCallsOf sees this alias, or we see dead.
		self.calls.Add(1)
		defer self.calls.Add(-1)
	}
	n.aliases.add(ref, pc)
	if self != nil && self.dead.Load() {
		if _, answered := n.giveUp(pc, ref); answered {
			pc.release()
		}
		return Message{}, ErrExited
	}
	if err := n.startCall(ctx, pc, ref, tg, request); err != nil {
		if n.aliases.take(ref, caller) == nil {
			<-pc.done // completed meanwhile (a Down): drain before reuse
		}
		n.endCallMonitor(pc, ref)
		pc.release()
		return Message{}, err
	}
	return n.awaitCall(ctx, self, ref, pc, to)
}

// startCall delivers the request and sets up the call's monitor. A callee
// that is not there completes the call with NoProc (awaitCall reports it).
func (n *Node) startCall(ctx context.Context, pc *pendingCall, ref Ref, tg callTarget, request any) error {
	rt := &ReplyTo{Caller: pc.caller, Ref: ref}
	if pc.target.Node != n.id {
		env := transport.Envelope{Kind: transport.KindCall, From: pc.caller, To: tg.pid, ToName: tg.name,
			Ref: uint64(ref), GlobalName: tg.gname, Fence: tg.fence}
		return n.sendRemote(ctx, pc.target.Node, env, request)
	}
	k := monKey{watcher: pc.caller, ref: ref}
	t := n.lookup(tg.pid)
	if t == nil || !t.addWatcher(k) {
		n.completeCallDown(k, tg.pid, NoProc)
		return nil
	}
	from := pc.caller
	if from.Serial == 0 {
		from = PID{}
	}
	if err := t.deliver(Message{From: from, Body: request, call: rt}); err != nil {
		t.removeWatcher(k)
		if errors.Is(err, ErrNoProc) {
			n.completeCallDown(k, tg.pid, NoProc)
			return nil
		}
		return err
	}
	return nil
}

// awaitCall waits for the call's completion or ctx's end; a plain Go
// caller also stops at the node's shutdown. A process caller's exit
// completes the call (failCallsOf), so waiting on the process's own ctx is
// a plain channel receive, the fast path.
func (n *Node) awaitCall(ctx context.Context, self *Process, ref Ref, pc *pendingCall, to Dest) (Message, error) {
	var stop <-chan struct{}
	if self != nil {
		ctx = self.waitCtx(ctx)
	} else {
		stop = n.ctx.Done()
	}
	var r callResult
	done := ctx.Done()
	if done == nil && stop == nil {
		r = <-pc.done
		return n.finishCall(pc, ref, r, to)
	}
	var err error
	select {
	case r = <-pc.done:
		return n.finishCall(pc, ref, r, to)
	case <-done:
		err = ctx.Err()
	case <-stop:
		err = ErrShutdown
	}
	if r, answered := n.giveUp(pc, ref); answered {
		return n.finishCall(pc, ref, r, to)
	}
	return Message{}, err
}

// errCallerExited completes the calls of a process that exits.
var errCallerExited = errors.New("node: caller exited")

// failCallsOf ends the calls in flight of the local process pid, which is
// exiting.
func (n *Node) failCallsOf(pid PID) {
	for ref, pc := range n.aliases.takeMatching(func(pc *pendingCall) bool { return pc.caller == pid }) {
		n.endCallMonitor(pc, ref)
		pc.done <- callResult{reason: errCallerExited}
	}
}

// giveUp deactivates the call's alias. If an answer won the race it returns
// that answer and true (the caller still owns pc); otherwise it removes the
// monitor, releases pc and returns false.
func (n *Node) giveUp(pc *pendingCall, ref Ref) (callResult, bool) {
	if n.aliases.take(ref, pc.caller) == nil {
		return <-pc.done, true // the answer was being sent: it is ours
	}
	n.endCallMonitor(pc, ref)
	pc.release()
	return callResult{}, false
}

// finishCall turns an answer into Call's result and releases pc.
func (n *Node) finishCall(pc *pendingCall, ref Ref, r callResult, to Dest) (Message, error) {
	defer pc.release()
	if r.reason == errCallerExited {
		return Message{}, ErrExited
	}
	if r.reason != nil {
		return Message{}, &CallError{Dest: DestString(to), PID: r.from, Reason: r.reason}
	}
	// A reply from the callee's own node removed the monitor there; any
	// other reply leaves it to us.
	if pc.target.Node == n.id || r.replyNode != pc.target.Node {
		n.endCallMonitor(pc, ref)
	}
	return r.reply, nil
}

// endCallMonitor removes the call's monitor of its callee.
func (n *Node) endCallMonitor(pc *pendingCall, ref Ref) {
	k := monKey{watcher: pc.caller, ref: ref}
	if pc.target.Node == n.id {
		if t := n.lookup(pc.target); t != nil {
			t.removeWatcher(k)
		}
		return
	}
	if n.tr != nil {
		n.out.push(pc.target.Node, &transport.Envelope{Kind: transport.KindDemonitor, From: pc.caller, To: pc.target, Ref: uint64(ref)})
	}
}

// release returns pc to the pool. Its done channel is empty.
func (pc *pendingCall) release() {
	*pc = pendingCall{done: pc.done}
	pendingPool.Put(pc)
}

// completeCallDown ends the call with alias k.ref of k.watcher with reason,
// if it is still waiting, and reports whether there was such a call.
func (n *Node) completeCallDown(k monKey, from PID, reason error) bool {
	pc := n.aliases.take(k.ref, k.watcher)
	if pc == nil {
		return false
	}
	if re, ok := reason.(*RemoteError); ok && re.Message == "" {
		switch re.Code {
		case callCodeStaleFence:
			reason = ErrStaleFence
		case callCodeMailboxFull:
			reason = ErrMailboxFull
		case callCodeBadRequest:
			reason = ErrDecode
		}
	}
	pc.done <- callResult{from: from, reason: reason}
	return true
}

// failCalls ends with reason every waiting call whose callee is on node and
// matches; with names, calls by name to that node too.
func (n *Node) failCalls(node NodeID, match func(PID) bool, reason error, names bool) {
	for _, pc := range n.aliases.takeMatching(func(pc *pendingCall) bool {
		t := pc.target
		if t.Node != node {
			return false
		}
		if t.Serial == 0 {
			return names
		}
		return match(t)
	}) {
		pc.done <- callResult{from: pc.target, reason: reason}
	}
}

// reply answers a call from `from`.
func (n *Node) reply(ctx context.Context, from PID, to ReplyTo, reply any) error {
	if to.IsZero() || to.Caller.Node == "" {
		return fmt.Errorf("%w: zero reply address", ErrNotCall)
	}
	if to.Caller.Node == n.id {
		if to.Caller.Incarnation != n.inc {
			n.stats.dropped.Add(1)
			return nil // a caller of an older boot: gone
		}
		pc := n.aliases.take(to.Ref, to.Caller)
		if pc == nil {
			n.stats.dropped.Add(1)
			return nil // late, or the caller is gone
		}
		n.stats.in.Add(1)
		pc.done <- callResult{reply: Message{From: from, Body: reply}, replyNode: n.id}
		return nil
	}
	k := monKey{watcher: to.Caller, ref: to.Ref}
	if callee, ok := n.inCalls.take(k); ok {
		if t := n.lookup(callee); t != nil {
			t.removeWatcher(k)
		}
	}
	env := transport.Envelope{Kind: transport.KindReply, From: from, To: to.Caller, Ref: uint64(to.Ref)}
	if err := n.sendRemote(ctx, to.Caller.Node, env, reply); err != nil && !errors.Is(err, ErrNoRoute) {
		return err
	}
	return nil // no route: the caller's node is gone, and so is the call
}
