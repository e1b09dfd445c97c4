package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// apiServer serves the HTTP API over a backend.
type apiServer struct {
	be      backend
	clients *clients
	metrics http.Handler // GET /metrics (metrics_sink.go)
	log     hclog.Logger
	// stopping is cancelled when the daemon shuts down: long-polls and SSE
	// streams watch it (http.Server.Shutdown does not cancel request
	// contexts). Never nil.
	stopping context.Context
	// acl is the token table; nil when ACLs are off (acl.go).
	acl *acls
	// limits holds the bounds and counts refusals (limits.go); browser
	// keeps web pages out (acl_browser.go).
	limits  *limits
	browser browserPolicy
}

// route is one path with an endpoint per method.
type route struct {
	path    string
	methods methods
}

// methods maps a method to its endpoint.
type methods map[string]endpoint

// endpoint is a handler and the ACL rule it declares (acl_rules.go). An
// endpoint without a rule is refused: {nameWrite(pathValue("name")), h}.
type endpoint struct {
	acl aclRule
	h   http.HandlerFunc
}

// handler returns the API: the browser checks and body/write deadlines
// around a mux of Go 1.22 method patterns, each endpoint behind its ACL
// rule, plus a catch-all per path that answers 405 with Allow in our JSON
// error format, and a global 404 for unknown paths.
func (s *apiServer) handler() http.Handler {
	if s.limits == nil {
		s.limits = newLimits(defaultLimits())
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		allow := make([]string, 0, len(rt.methods))
		for m, ep := range rt.methods {
			mux.HandleFunc(m+" "+rt.path, s.guard(ep.acl, ep.h))
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		sort.Strings(allow)
		mux.HandleFunc(rt.path, methodNotAllowed(strings.Join(allow, ", ")))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no such endpoint: %s", r.URL.Path))
	})
	return s.browser.handler(s.limits, s.limits.bodyDeadline(mux))
}

// routes lists every endpoint with its ACL rule. A new route declares one
// here too (doc.go, "ACL rules").
func (s *apiServer) routes() []route {
	name, key, group := pathValue("name"), pathValue("key"), pathValue("group")
	return []route{
		{"/v1/health", methods{"GET": {healthRule(), s.health}}},
		{"/v1/health/live", methods{"GET": {healthRule(), s.live}}},
		{"/v1/status", methods{"GET": {agentRead(), s.status}}},
		{"/v1/processes", methods{"POST": {processWrite(), s.spawnProcess}}},
		{"/v1/processes/{pid}", methods{"DELETE": {ownProcess(pathPID("pid")), s.deleteProcess}}},
		{"/v1/processes/{pid}/renew", methods{"PUT": {ownProcess(pathPID("pid")), s.renewProcess}}},
		{"/v1/processes/{pid}/messages", methods{
			"POST": {processWrite(), s.sendProcess},
			"GET":  {ownProcess(pathPID("pid")), s.receiveProcess}}},
		{"/v1/processes/{pid}/call", methods{"POST": {processWrite(), s.callProcess}}},
		{"/v1/processes/{pid}/replies/{ref}", methods{"POST": {ownProcess(pathPID("pid")), s.replyCall}}},
		{"/v1/names", methods{"GET": {nameRead(queryValue("prefix")), s.listNames}}},
		{"/v1/names/{name}", methods{
			"PUT":    {nameWrite(name).owns(bodyPID), s.registerName},
			"GET":    {nameRead(name), s.lookupName},
			"DELETE": {nameWrite(name).owns(queryPID("pid")), s.unregisterName}}},
		{"/v1/names/{name}/messages", methods{"POST": {nameWrite(name), s.sendName}}},
		{"/v1/names/{name}/call", methods{"POST": {nameWrite(name), s.callName}}},
		{"/v1/local/names/{key}", methods{
			"PUT":    {nameWrite(key).owns(bodyPID), s.registerLocal},
			"GET":    {nameRead(key), s.lookupLocal},
			"DELETE": {nameWrite(key).owns(queryPID("pid")), s.unregisterLocal}}},
		{"/v1/local/names/{key}/call", methods{"POST": {nameWrite(key), s.callLocal}}},
		{"/v1/local/groups/{key}", methods{
			"PUT":    {groupWrite(key).owns(bodyPID), s.joinGroup},
			"GET":    {groupRead(key), s.groupMembers},
			"DELETE": {groupWrite(key).owns(queryPID("pid")), s.leaveGroup}}},
		{"/v1/local/groups/{key}/messages", methods{"POST": {groupWrite(key), s.sendGroup}}},
		{"/v1/groups", methods{"GET": {groupRead(queryValue("prefix")), s.listClusterGroups}}},
		{"/v1/groups/{group}", methods{"GET": {groupRead(groupOrWatchPrefix), s.clusterGroup}}}, // and /v1/groups/watch
		{"/v1/groups/{group}/members", methods{
			"PUT":    {groupWrite(group).owns(bodyPID), s.joinClusterGroup},
			"DELETE": {groupWrite(group).owns(groupPIDOf), s.leaveClusterGroup}}},
		{"/v1/groups/{group}/messages", methods{"POST": {groupWrite(group), s.publishClusterGroup}}},
		{"/v1/groups/{group}/call", methods{"POST": {groupWrite(group), s.callClusterGroup}}},
		{"/v1/watch", methods{"GET": {nameRead(queryValue("prefix")), s.watch}}},
		{"/metrics", methods{"GET": {metricsRule(), s.metrics.ServeHTTP}}},
		{"/v1/acl/token/self", methods{"GET": {publicRule(), s.tokenSelf}}},
		{"/ui/", methods{"GET": {publicRule(), s.ui}}},
		{"/favicon.ico", methods{"GET": {publicRule(), s.favicon}}},
		{"/v1/operator/keyring", methods{ // http_keyring.go
			"GET": {operatorOnly(), s.keyringList}, "POST": {operatorOnly(), s.keyringChange}}},
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
	}
}

// apiError is the JSON body of every error response.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// Owner is set on 409 name_taken.
	Owner *registration `json:"owner,omitempty"`
	// Node is set on 421 remote_pid: the node that can serve the request.
	Node transport.NodeID `json:"node,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, apiError{Error: msg, Code: kind})
}

// badRequest is a client error found by the HTTP layer itself.
type badRequest struct {
	code string // e.g. "bad_json", "bad_pid", "bad_duration"
	msg  string
}

func (e *badRequest) Error() string { return e.msg }

func badReq(code, format string, args ...any) error {
	return &badRequest{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError maps err to a status code and a JSON error.
func (s *apiServer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		br    *badRequest
		taken *nameTakenError
		mbe   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &br):
		writeErr(w, http.StatusBadRequest, br.code, br.msg)
	case errors.As(err, &mbe):
		writeErr(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("request body over the limit of %d bytes", mbe.Limit))
	case errors.As(err, &taken):
		writeJSON(w, http.StatusConflict, apiError{Error: err.Error(), Code: "name_taken", Owner: &taken.Owner})
	case errors.Is(err, errInvalidName):
		writeErr(w, http.StatusBadRequest, "invalid_name", err.Error())
	case errors.Is(err, errCallTimeout):
		writeErr(w, http.StatusGatewayTimeout, "timeout", err.Error())
	case errors.Is(err, errCalleeExited):
		writeErr(w, http.StatusBadGateway, "callee_exited", err.Error())
	case errors.Is(err, errStaleFence):
		writeErr(w, http.StatusConflict, "stale_fence", err.Error())
	case errors.Is(err, errUnknownCall):
		writeErr(w, http.StatusNotFound, "unknown_call", err.Error())
	case errors.Is(err, errNoProc):
		writeErr(w, http.StatusNotFound, "noproc", err.Error())
	case errors.Is(err, errNotFound):
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, errNotOwner):
		writeErr(w, http.StatusConflict, "not_owner", err.Error())
	case errors.Is(err, errCompacted):
		writeErr(w, http.StatusGone, "compacted", err.Error())
	case errors.Is(err, errRemotePID):
		pid, _ := transport.ParsePID(r.PathValue("pid"))
		writeJSON(w, http.StatusMisdirectedRequest, apiError{Error: err.Error(), Code: "remote_pid", Node: pid.Node})
	case errors.Is(err, errMailboxFull):
		s.limits.denied("mailbox_full")
		writeErr(w, http.StatusTooManyRequests, "mailbox_full", err.Error())
	case errors.Is(err, errTooManyProcesses):
		s.limits.denied("too_many_processes")
		writeErr(w, http.StatusTooManyRequests, "too_many_processes", err.Error())
	case errors.Is(err, errTooManyWatches):
		s.limits.denied("too_many_watches")
		writeErr(w, http.StatusTooManyRequests, "too_many_watches", err.Error())
	case errors.Is(err, errBodyTimeout):
		s.limits.denied("body_timeout")
		writeErr(w, http.StatusRequestTimeout, "body_timeout", err.Error())
	case errors.Is(err, errOutcomeUnknown):
		writeErr(w, http.StatusServiceUnavailable, "outcome_unknown", err.Error())
	case errors.Is(err, errUnavailable):
		writeErr(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeErr(w, http.StatusGatewayTimeout, "timeout", err.Error())
	case errors.Is(err, context.Canceled):
		writeErr(w, http.StatusServiceUnavailable, "canceled", err.Error())
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// decodeBody reads a JSON object of at most maxBodyBytes into v. An empty
// body leaves v as is when allowEmpty.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(body) == 0 && allowEmpty {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badReq("bad_json", "malformed JSON body: %v", err)
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return badReq("bad_json", "malformed JSON body: trailing data after the object")
	}
	return nil
}

// readBody reads the raw body, capped at maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errBodyTimeout) {
			return nil, err
		}
		return nil, badReq("bad_body", "reading body: %v", err)
	}
	return b, nil
}

// readMessage reads a body that must be one JSON value (the message).
func readMessage(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, badReq("bad_json", "empty body: the message must be a JSON value")
	}
	if !json.Valid(b) {
		return nil, badReq("bad_json", "malformed JSON body")
	}
	return json.RawMessage(b), nil
}

// parsePID parses a pid from a path value or query parameter.
func parsePID(s, what string) (transport.PID, error) {
	if s == "" {
		return transport.PID{}, badReq("bad_pid", "missing %s", what)
	}
	pid, err := transport.ParsePID(s)
	if err != nil {
		return transport.PID{}, badReq("bad_pid", "%s: %v", what, err)
	}
	return pid, nil
}

// checkName validates a global or local name: 1..maxNameLen bytes of
// valid UTF-8.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", errInvalidName)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: %d bytes, over the limit of %d", errInvalidName, len(name), maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not valid UTF-8", errInvalidName)
	}
	return nil
}

// boolParam reads ?name=1|true|0|false (absent: false).
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, badReq("bad_param", "%s=%q: want 1, true, 0 or false", name, v)
	}
}

func (s *apiServer) health(w http.ResponseWriter, r *http.Request) {
	if err := s.be.Health(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, "unhealthy", err.Error())
		return
	}
	node, _ := s.be.Self()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node": node})
}

func (s *apiServer) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.be.Status(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st.Version = version
	writeJSON(w, http.StatusOK, st)
}
