package api

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// callQuery is ?timeout= for a call (0: the agent's default, 5s).
func callQuery(timeout time.Duration) url.Values {
	if timeout <= 0 {
		return nil
	}
	return url.Values{"timeout": {timeout.String()}}
}

// Call calls the owner of a global name with msg and returns its reply
// (the callee answers with Reply). The agent waits up to timeout (0: its
// default 5s, at most 1m): an *Error with code "timeout" (504) when it
// runs out, "noproc" (404) when nobody holds the name, "callee_exited"
// (502) when the callee died mid-call. POST /v1/names/{name}/call.
func (n *Names) Call(ctx context.Context, name string, msg any, timeout time.Duration) (json.RawMessage, error) {
	var out json.RawMessage
	err := n.c.do(ctx, request{method: "POST", path: namePath(name) + "/call", query: callQuery(timeout), body: msg}, &out)
	return out, err
}

// Call calls the process registered under the local name key on this
// agent's node. POST /v1/local/names/{key}/call; see Names.Call.
func (l *Local) Call(ctx context.Context, key string, msg any, timeout time.Duration) (json.RawMessage, error) {
	var out json.RawMessage
	err := l.c.do(ctx, request{method: "POST", path: "/v1/local/names/" + url.PathEscape(key) + "/call", query: callQuery(timeout), body: msg}, &out)
	return out, err
}

// Call calls the process pid (on any node). POST /v1/processes/{pid}/call;
// see Names.Call.
func (p *Processes) Call(ctx context.Context, pid PID, msg any, timeout time.Duration) (json.RawMessage, error) {
	var out json.RawMessage
	err := p.c.do(ctx, request{method: "POST", path: pidPath(pid) + "/call", query: callQuery(timeout), body: msg}, &out)
	return out, err
}

// Reply answers the call ref that the HTTP process pid received in a
// Receive (Message.Call). An *Error with code "unknown_call" (404) when
// pid holds no such call. POST /v1/processes/{pid}/replies/{ref}.
func (p *Processes) Reply(ctx context.Context, pid PID, ref string, reply any) error {
	return p.c.do(ctx, request{method: "POST", path: pidPath(pid) + "/replies/" + url.PathEscape(ref), body: reply}, nil)
}
