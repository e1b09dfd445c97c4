package node

import (
	"sync"
)

// An alias is the reference a Call waits on (OTP's alias): replies and the
// Down of the call's monitor carry it, and they reach the caller only while
// the alias is active. The caller deactivates it the moment it gives up
// (reply, Down, timeout, exit), so a late reply finds no alias and is
// dropped: it never reaches the caller's mailbox. Aliases and monitor refs
// come from one counter, so they never collide.

// aliasShards spreads the pending calls over a few mutexes; callers on
// different cores rarely meet.
const aliasShards = 16

// aliasTable holds the node's active aliases: the calls its callers
// (processes or plain Go code) are waiting on. It is bounded by the number
// of goroutines blocked in Call.
type aliasTable struct {
	shards [aliasShards]aliasShard
}

type aliasShard struct {
	mu sync.Mutex
	m  map[Ref]*pendingCall
	_  [40]byte // keep neighbouring mutexes off one cache line
}

// pendingCall is one Call waiting for its answer.
type pendingCall struct {
	caller PID // the calling process, or the node's pseudo pid for plain Go code
	// target is the callee: its pid, or for a call by RemoteName to another
	// node only the node (Incarnation and Serial zero) until an answer says
	// which pid it reached.
	target PID
	done   chan callResult // capacity 1: the one completion never blocks
}

// callResult completes a call: a reply, or the reason the callee is gone.
type callResult struct {
	reply     Message
	replyNode NodeID // the node the reply came from
	from      PID    // the pid a Down came from (the callee) when reason is set
	reason    error  // non-nil: the callee exited (or never existed) first
}

var pendingPool = sync.Pool{New: func() any { return &pendingCall{done: make(chan callResult, 1)} }}

func (t *aliasTable) shard(ref Ref) *aliasShard { return &t.shards[uint64(ref)%aliasShards] }

// add activates alias ref for pc.
func (t *aliasTable) add(ref Ref, pc *pendingCall) {
	sh := t.shard(ref)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[Ref]*pendingCall)
	}
	sh.m[ref] = pc
	sh.mu.Unlock()
}

// take deactivates alias ref of caller and returns its call, or nil if it
// is not active (answered already, given up, never existed, or another
// caller's). Exactly one taker wins; it alone may send on the call's done
// channel.
func (t *aliasTable) take(ref Ref, caller PID) *pendingCall {
	sh := t.shard(ref)
	sh.mu.Lock()
	pc := sh.m[ref]
	if pc != nil && pc.caller == caller {
		delete(sh.m, ref)
	} else {
		pc = nil
	}
	sh.mu.Unlock()
	return pc
}

// takeMatching deactivates and returns the calls that satisfy match (their
// callee's node went, or their caller exits).
func (t *aliasTable) takeMatching(match func(*pendingCall) bool) map[Ref]*pendingCall {
	var out map[Ref]*pendingCall
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for ref, pc := range sh.m {
			if match(pc) {
				if out == nil {
					out = make(map[Ref]*pendingCall)
				}
				out[ref] = pc
				delete(sh.m, ref)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// len counts active aliases (tests check that none leak).
func (t *aliasTable) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// inboundCalls remembers, on the callee's node, which local process is
// monitored by each call from another node, so that the reply (or the
// caller's demonitor) can remove that monitor without a signal of its own:
// a remote call costs one envelope each way, like a send and its answer.
// Entries go when the call is answered, demonitored, the callee exits or
// the caller's node goes; the table is bounded by the calls in flight
// towards this node.
type inboundCalls struct {
	mu sync.Mutex
	m  map[monKey]PID // (caller, alias) -> callee
}

func (ic *inboundCalls) add(k monKey, callee PID) {
	ic.mu.Lock()
	if ic.m == nil {
		ic.m = make(map[monKey]PID)
	}
	ic.m[k] = callee
	ic.mu.Unlock()
}

// take removes and returns the callee of k.
func (ic *inboundCalls) take(k monKey) (PID, bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	pid, ok := ic.m[k]
	if ok {
		delete(ic.m, k)
	}
	return pid, ok
}

// dropCaller forgets the calls from matching processes of node.
func (ic *inboundCalls) dropCaller(node NodeID, match func(PID) bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	for k := range ic.m {
		if k.watcher.Node == node && match(k.watcher) {
			delete(ic.m, k)
		}
	}
}

func (ic *inboundCalls) len() int {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return len(ic.m)
}
