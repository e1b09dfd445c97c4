package global

import (
	"bytes"
	"context"
	"fmt"

	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// RPC methods served by HandleRPC. Node routes every request whose method
// starts with MethodPrefix to (*Table).HandleRPC. Method names are on the
// wire: never rename one.
const (
	MethodPrefix = "global."
	// MethodApply carries a batch of writes from a follower to the leader.
	MethodApply = "global.apply"
	// MethodRead carries a consistent read from a follower to the leader.
	MethodRead = "global.read"
)

// MethodApply's body is a msgpack array of commands; its response is a
// msgpack array of results, one per command, in order.

// readRequest is MethodRead's body: a Lookup of Name, or with List set a
// List of Name as prefix.
type readRequest struct {
	Name string `msgpack:"n"`
	List bool   `msgpack:"l,omitempty"`
	// After and Limit page a List (Name is the prefix): names after After,
	// at most Limit of them (0: all).
	After string `msgpack:"a,omitempty"`
	Limit int    `msgpack:"k,omitempty"`
}

// readResponse is MethodRead's response. Code is codeOK, codeNotFound, or a
// retryable code when the receiver could not serve a consistent read. On the
// wire it is msgpack values: Code, Index, the array of Regs, then More (a
// page of a listing left names out; absent from older nodes: false).
type readResponse struct {
	Code  errCode
	Regs  []Registration
	Index uint64
	More  bool
}

func (r *readResponse) marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.Encode(r.Code); err != nil {
		return nil, err
	}
	if err := enc.Encode(r.Index); err != nil {
		return nil, err
	}
	if err := enc.Encode(r.Regs); err != nil {
		return nil, err
	}
	if r.More {
		if err := enc.Encode(true); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func (r *readResponse) unmarshal(data []byte) error {
	rd := bytes.NewReader(data) // a ByteScanner: the decoder reads no further ahead
	dec := msgpack.NewDecoder(rd)
	if err := dec.Decode(&r.Code); err != nil {
		return err
	}
	if err := dec.Decode(&r.Index); err != nil {
		return err
	}
	regs, err := decodeArray[Registration](dec, maxSnapItems, len(data))
	r.Regs = regs
	if err != nil {
		return err
	}
	if rd.Len() > 0 {
		return dec.Decode(&r.More)
	}
	return nil
}

// HandleRPC serves the "global.*" methods other nodes' Tables send through
// the Forwarder. Node calls it from its transport's request goroutine; it
// blocks until the batch commits, ctx ends, or the table shuts down.
// A malformed body yields an error wrapping ErrBadRequest.
func (t *Table) HandleRPC(ctx context.Context, from transport.NodeID, method string, body []byte) ([]byte, error) {
	if t.isShutdown() {
		return nil, ErrShutdown
	}
	switch method {
	case MethodApply:
		cmds, err := decodeArrayBytes[command](body, maxEntryCommands)
		if err != nil {
			return nil, fmt.Errorf("%w: %s from %s: %w", ErrBadRequest, method, from, err)
		}
		return msgpack.Marshal(t.serveApply(ctx, cmds))
	case MethodRead:
		var req readRequest
		if err := msgpack.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %s from %s: %w", ErrBadRequest, method, from, err)
		}
		return t.serveRead(ctx, req).marshal()
	case MethodLease:
		return t.handleLease(ctx, from, body)
	}
	return nil, fmt.Errorf("%w: %q from %s", ErrUnknownMethod, method, from)
}

// serveApply commits forwarded commands through the leader's group commit.
// It does not retry: the forwarding node does, within its hold window.
func (t *Table) serveApply(ctx context.Context, cmds []command) []result {
	out := make([]result, len(cmds))
	if !t.IsLeader() {
		for i := range out {
			out[i] = result{Code: codeNotLeader}
		}
		return out
	}
	ps := make([]*pending, len(cmds))
	for i, c := range cmds {
		ps[i] = newPending(c)
		if err := t.leaderGC.submit(ctx, ps[i]); err != nil {
			ps[i] = nil
			out[i] = result{Code: codeNotLeader}
		}
	}
	for i, p := range ps {
		if p == nil {
			continue
		}
		select {
		case out[i] = <-p.done:
		case <-ctx.Done():
			out[i] = result{Code: codeUnknown}
		case <-t.shutdownCh:
			out[i] = result{Code: codeUnknown}
		}
	}
	return out
}

// serveRead answers a follower's consistent read.
func (t *Table) serveRead(ctx context.Context, req readRequest) *readResponse {
	if err := t.verifyLeader(ctx); err != nil {
		return &readResponse{Code: codeOf(err)}
	}
	idx := t.fsm.appliedIndex()
	if req.List {
		regs, more := t.fsm.page(req.Name, req.After, max(req.Limit, 0))
		return &readResponse{Regs: regs, Index: idx, More: more}
	}
	reg, ok := t.fsm.lookup(req.Name)
	if !ok {
		return &readResponse{Code: codeNotFound, Index: idx}
	}
	return &readResponse{Regs: []Registration{reg}, Index: idx}
}

// forwardBatch is a follower's group-commit flush: one RPC to the leader
// for the whole batch. Runs on a groupCommit goroutine.
func (t *Table) forwardBatch(batch []*pending) {
	_, leader := t.raft.LeaderWithID()
	if leader == "" || string(leader) == string(t.cfg.NodeID) || t.cfg.Forwarder == nil {
		deliverAll(batch, result{Code: codeNotLeader})
		return
	}
	cmds := make([]command, len(batch))
	for i, p := range batch {
		cmds[i] = p.cmd
	}
	t.sample([]string{"global", "forward", "batch"}, len(batch))
	body, err := msgpack.Marshal(cmds)
	if err != nil {
		deliverAll(batch, resultOf(err))
		return
	}
	ctx, cancel := t.rpcContext()
	defer cancel()
	out, err := t.cfg.Forwarder.Call(ctx, transport.NodeID(leader), MethodApply, body)
	var results []result
	if err == nil {
		results, err = decodeArrayBytes[result](out, len(batch))
	}
	if err != nil || len(results) != len(batch) {
		t.logger.Debug("forwarded write failed", "leader", leader, "error", err)
		deliverAll(batch, result{Code: codeUnknown})
		return
	}
	for i, p := range batch {
		p.done <- results[i]
	}
}

// rpcContext bounds one forwarded RPC by ForwardTimeout and shutdown.
func (t *Table) rpcContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.baseCtx, t.cfg.ForwardTimeout)
}
