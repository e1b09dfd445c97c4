package global

import (
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

// applyRequest is MethodApply's body.
type applyRequest struct {
	Cmds []command `msgpack:"c"`
}

// applyResponse is MethodApply's response: one result per command.
type applyResponse struct {
	Results []result `msgpack:"r"`
}

// readRequest is MethodRead's body: a Lookup of Name, or with List set a
// List of Name as prefix.
type readRequest struct {
	Name string `msgpack:"n"`
	List bool   `msgpack:"l,omitempty"`
}

// readResponse is MethodRead's response. Code is codeOK, codeNotFound, or a
// retryable code when the receiver could not serve a consistent read.
type readResponse struct {
	Code  errCode        `msgpack:"c"`
	Regs  []Registration `msgpack:"r,omitempty"`
	Index uint64         `msgpack:"i"`
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
		var req applyRequest
		if err := msgpack.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %s from %s: %w", ErrBadRequest, method, from, err)
		}
		return msgpack.Marshal(&applyResponse{Results: t.serveApply(ctx, req.Cmds)})
	case MethodRead:
		var req readRequest
		if err := msgpack.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %s from %s: %w", ErrBadRequest, method, from, err)
		}
		return msgpack.Marshal(t.serveRead(ctx, req))
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
		return &readResponse{Regs: t.fsm.list(req.Name), Index: idx}
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
	req := applyRequest{Cmds: make([]command, len(batch))}
	for i, p := range batch {
		req.Cmds[i] = p.cmd
	}
	t.sample([]string{"global", "forward", "batch"}, len(batch))
	body, err := msgpack.Marshal(&req)
	if err != nil {
		deliverAll(batch, resultOf(err))
		return
	}
	ctx, cancel := t.rpcContext()
	defer cancel()
	out, err := t.cfg.Forwarder.Call(ctx, transport.NodeID(leader), MethodApply, body)
	var resp applyResponse
	if err == nil {
		err = msgpack.Unmarshal(out, &resp)
	}
	if err != nil || len(resp.Results) != len(batch) {
		t.logger.Debug("forwarded write failed", "leader", leader, "error", err)
		deliverAll(batch, result{Code: codeUnknown})
		return
	}
	for i, p := range batch {
		p.done <- resp.Results[i]
	}
}

// rpcContext bounds one forwarded RPC by ForwardTimeout and shutdown.
func (t *Table) rpcContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.baseCtx, t.cfg.ForwardTimeout)
}
