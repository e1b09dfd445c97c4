package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

var _ callBackend = (*nodeBackend)(nil)

// maxPendingCalls bounds the calls one HTTP process holds unanswered. A
// call beyond it evicts the oldest: its caller has most likely given up
// (calls time out after at most maxCallTimeout over HTTP), and a late reply
// to it is dropped by the node anyway.
const maxPendingCalls = 1024

// pendingCalls is one HTTP process's unanswered calls, by ref.
type pendingCalls struct {
	p    *node.Process
	mu   sync.Mutex
	next uint64
	m    map[string]pendingCall
}

type pendingCall struct {
	to  node.ReplyTo
	seq uint64
}

// add remembers a call and returns its ref.
func (pc *pendingCalls) add(to node.ReplyTo) string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.m == nil {
		pc.m = make(map[string]pendingCall)
	}
	if len(pc.m) >= maxPendingCalls {
		oldest, seq := "", uint64(0)
		for ref, c := range pc.m {
			if oldest == "" || c.seq < seq {
				oldest, seq = ref, c.seq
			}
		}
		delete(pc.m, oldest)
	}
	pc.next++
	ref := strconv.FormatUint(pc.next, 36)
	pc.m[ref] = pendingCall{to: to, seq: pc.next}
	return ref
}

// take removes and returns the call ref.
func (pc *pendingCalls) take(ref string) (node.ReplyTo, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	c, ok := pc.m[ref]
	delete(pc.m, ref)
	return c.to, ok
}

// Call implements callBackend.
func (b *nodeBackend) Call(ctx context.Context, to callDest, body json.RawMessage) (json.RawMessage, error) {
	var dest node.Dest
	switch {
	case to.global != "":
		dest = node.Global(to.global)
	case to.local != "":
		dest = node.Name(to.local)
	default:
		dest = to.pid
	}
	m, err := b.n.Call(ctx, dest, body)
	if err != nil {
		return nil, callErr(err)
	}
	return toInbound(m).Body, nil
}

// Reply implements callBackend.
func (b *nodeBackend) Reply(ctx context.Context, pid transport.PID, ref string, body json.RawMessage) error {
	v, ok := b.calls.Load(pid)
	if !ok {
		return fmt.Errorf("%w: %s is not a live HTTP process here", errNoProc, pid)
	}
	pc := v.(*pendingCalls)
	to, ok := pc.take(ref)
	if !ok {
		return fmt.Errorf("%w: no pending call %q for %s", errUnknownCall, ref, pid)
	}
	// The reply goes as a decoded JSON value (map[string]any, []any,
	// string, float64, ...), so a Go caller can Decode it into its own type.
	var reply any
	if err := json.Unmarshal(body, &reply); err != nil {
		return badReq("bad_json", "%v", err)
	}
	return mapErr(pc.p.Reply(ctx, to, reply))
}

// callErr maps a Call's error to the daemon's sentinels.
func callErr(err error) error {
	var ce *node.CallError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", errCallTimeout, err)
	case errors.Is(err, node.ErrStaleFence):
		return fmt.Errorf("%w: %w", errStaleFence, err)
	case errors.As(err, &ce) && errors.Is(ce.Reason, node.NoProc):
		return fmt.Errorf("%w: %w", errNoProc, err)
	case errors.As(err, &ce):
		return fmt.Errorf("%w: %w", errCalleeExited, err)
	}
	return mapErr(err)
}
