package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/roster-dev/roster/transport"
)

// callBackend is the part of the backend that makes and answers calls
// (node.Call and node.Reply). nodeBackend implements it; a backend without
// it answers the call endpoints with 501.
type callBackend interface {
	// Call sends body as a call to dest and waits, until ctx ends, for the
	// reply, rendered as JSON. Errors: errNoProc (no such callee),
	// errCalleeExited (it died mid-call), errCallTimeout, errStaleFence,
	// errNotFound.
	Call(ctx context.Context, to callDest, body json.RawMessage) (json.RawMessage, error)
	// Reply answers the call ref that the HTTP process pid received in a
	// long-poll. errUnknownCall if pid holds no such call (answered
	// already, evicted, or never received).
	Reply(ctx context.Context, pid transport.PID, ref string, body json.RawMessage) error
}

// callDest is a call's target: one of a global name, a local name or a pid.
type callDest struct {
	global, local string
	pid           transport.PID
}

// inboundCall is a call as an HTTP process receives it in a long-poll:
// {"call": {"ref", "from", "body"}}.
type inboundCall struct {
	Ref  string          `json:"ref"`
	From string          `json:"from,omitempty"`
	Body json.RawMessage `json:"body"`
}

// Call errors, mapped by writeError.
var (
	errCalleeExited = errors.New("clusternode: callee exited before replying")
	errCallTimeout  = errors.New("clusternode: call timed out")
	errStaleFence   = errors.New("clusternode: stale fence")
	errUnknownCall  = errors.New("clusternode: no such pending call")
)

func (s *apiServer) callBE(w http.ResponseWriter) (callBackend, bool) {
	cb, ok := s.be.(callBackend)
	if !ok {
		writeErr(w, http.StatusNotImplemented, "not_implemented", "this backend has no calls")
	}
	return cb, ok
}

// callTimeout reads ?timeout= (default 5 s, at most a minute).
func callTimeout(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		return defaultCallTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > maxCallTimeout {
		return 0, badReq("bad_duration", "timeout must be a duration in (0, %v], got %q", maxCallTimeout, v)
	}
	return d, nil
}

// serveCall runs a call to the destination dest(r) and writes the reply
// body: 200 with the reply, 404 noproc, 502 callee_exited, 504 timeout.
func (s *apiServer) serveCall(dest func(r *http.Request) (callDest, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cb, ok := s.callBE(w)
		if !ok {
			return
		}
		to, err := dest(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		timeout, err := callTimeout(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		body, err := readMessage(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		stop := context.AfterFunc(s.stopping, cancel)
		defer stop()
		reply, err := cb.Call(ctx, to, body)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, reply)
	}
}

func (s *apiServer) callName(w http.ResponseWriter, r *http.Request) {
	s.serveCall(func(r *http.Request) (callDest, error) { return callDest{global: r.PathValue("name")}, nil })(w, r)
}

func (s *apiServer) callLocal(w http.ResponseWriter, r *http.Request) {
	s.serveCall(func(r *http.Request) (callDest, error) { return callDest{local: r.PathValue("key")}, nil })(w, r)
}

func (s *apiServer) callProcess(w http.ResponseWriter, r *http.Request) {
	s.serveCall(func(r *http.Request) (callDest, error) {
		pid, err := parsePID(r.PathValue("pid"), "pid")
		return callDest{pid: pid}, err
	})(w, r)
}

// replyCall answers a call an HTTP process received: 204, or 404
// unknown_call for a ref it does not hold.
func (s *apiServer) replyCall(w http.ResponseWriter, r *http.Request) {
	cb, ok := s.callBE(w)
	if !ok {
		return
	}
	pid, err := parsePID(r.PathValue("pid"), "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readMessage(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := cb.Reply(r.Context(), pid, r.PathValue("ref"), body); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
