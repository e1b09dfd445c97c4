package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster/transport"
)

// The cluster-wide process groups (node/cluster's groups, default scope):
//
//	PUT    /v1/groups/{group}/members   {"pid","meta"}  join (a local pid; meta any JSON, <= 1 KiB)
//	DELETE /v1/groups/{group}/members?pid=P  (or {"pid"})  leave once
//	GET    /v1/groups/{group}?limit=    members on every node, as this node sees them
//	GET    /v1/groups?prefix=&limit=&after=  groups with their member counts
//	POST   /v1/groups/{group}/messages  JSON message to every member -> {"sent":N}
//	POST   /v1/groups/{group}/call?timeout=  each member's reply -> {"replies":[...]}
//	GET    /v1/groups/watch?prefix=     SSE: join / leave / update events
//
// (A group named "watch" is reachable by Go and by the prefix listing, not
// by GET /v1/groups/watch.)

// groupsBackend is the groups part of a backend: nodeBackend has it; a
// backend without it answers 501 on the group routes. Methods follow
// backend's rules (safe for concurrent use; ctx methods may block).
type groupsBackend interface {
	JoinClusterGroup(group string, pid transport.PID, meta json.RawMessage) (groupMemberJSON, error)
	LeaveClusterGroup(group string, pid transport.PID) error
	ClusterGroupMembers(group string, limit int) ([]groupMemberJSON, bool, error)
	ListClusterGroups(prefix, after string, limit int) ([]groupInfoJSON, bool, error)
	PublishClusterGroup(ctx context.Context, group string, body json.RawMessage) (int, error)
	CallClusterGroup(ctx context.Context, group string, body json.RawMessage) ([]groupReplyJSON, error)
	// WatchClusterGroups streams events of groups starting with prefix
	// until ctx ends; the channel closes then, or after a last event with
	// Error set when the watcher fell behind.
	WatchClusterGroups(ctx context.Context, prefix string) (<-chan groupEventJSON, error)
}

// groupMemberJSON is a member as the API prints it.
type groupMemberJSON struct {
	PID   string          `json:"pid"`
	Node  string          `json:"node"`
	Meta  json.RawMessage `json:"meta,omitempty"`
	Count int             `json:"count"`
}

type groupInfoJSON struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	Local   int    `json:"local"`
}

type groupReplyJSON struct {
	PID   string          `json:"pid"`
	Reply json.RawMessage `json:"reply,omitempty"`
	Error string          `json:"error,omitempty"`
}

// groupEventJSON is one SSE event's data.
type groupEventJSON struct {
	Type       string          `json:"type"` // join, leave, update, error
	Group      string          `json:"group,omitempty"`
	PID        string          `json:"pid,omitempty"`
	Node       string          `json:"node,omitempty"`
	Meta       json.RawMessage `json:"meta,omitempty"`
	Count      int             `json:"count,omitempty"`
	Reason     string          `json:"reason,omitempty"`      // leave: leave, process_exit, node_down, node_left
	ExitReason string          `json:"exit_reason,omitempty"` // process_exit: the exit reason
	Error      string          `json:"error,omitempty"`
}

// Pagination bounds of list endpoints (the shared HTTP contract).
const (
	defaultListLimit = 1000
	maxListLimit     = 10000
	// maxCallTimeout bounds POST .../call?timeout=; default 5 s.
	maxCallTimeout     = time.Minute
	defaultCallTimeout = 5 * time.Second
)

func (s *apiServer) groupsBE(w http.ResponseWriter) (groupsBackend, bool) {
	gb, ok := s.be.(groupsBackend)
	if !ok {
		writeErr(w, http.StatusNotImplemented, "not_implemented", "this backend has no cluster groups")
	}
	return gb, ok
}

// listLimit reads ?limit= (default 1000, at most 10000).
func listLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, badReq("bad_limit", "limit must be 1..%d, got %q", maxListLimit, v)
	}
	return n, nil
}

// groupMemberBody is the body of PUT/DELETE /v1/groups/{group}/members.
type groupMemberBody struct {
	PID  string          `json:"pid"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

func (s *apiServer) joinClusterGroup(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	var b groupMemberBody
	err := decodeBody(w, r, &b, false)
	var pid transport.PID
	if err == nil {
		pid, err = parsePID(b.PID, "pid")
	}
	var m groupMemberJSON
	if err == nil {
		m, err = gb.JoinClusterGroup(r.PathValue("group"), pid, b.Meta)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// groupPIDOf is the pid of a leave: ?pid= or the body's "pid".
var groupPIDOf pidSource = func(r *http.Request) (transport.PID, bool) {
	if r.URL.Query().Has("pid") {
		return queryPID("pid")(r)
	}
	return bodyPID(r)
}

func (s *apiServer) leaveClusterGroup(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	var err error
	var pid transport.PID
	if r.URL.Query().Has("pid") {
		pid, err = parsePID(r.URL.Query().Get("pid"), "pid query parameter")
	} else {
		var b groupMemberBody
		if err = decodeBody(w, r, &b, false); err == nil {
			pid, err = parsePID(b.PID, "pid")
		}
	}
	if err == nil {
		err = gb.LeaveClusterGroup(r.PathValue("group"), pid)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// groupOrWatchPrefix is the ACL subject of GET /v1/groups/{group}: the
// group, or for /v1/groups/watch the ?prefix= watched.
var groupOrWatchPrefix subjectSource = func(r *http.Request) string {
	if r.PathValue("group") == "watch" {
		return r.URL.Query().Get("prefix")
	}
	return r.PathValue("group")
}

func (s *apiServer) clusterGroup(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("group") == "watch" {
		s.watchClusterGroups(w, r)
		return
	}
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	limit, err := listLimit(r)
	var members []groupMemberJSON
	var more bool
	if err == nil {
		members, more, err = gb.ClusterGroupMembers(r.PathValue("group"), limit)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if members == nil {
		members = []groupMemberJSON{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": r.PathValue("group"), "members": members, "truncated": more})
}

func (s *apiServer) listClusterGroups(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	limit, err := listLimit(r)
	var groups []groupInfoJSON
	var more bool
	if err == nil {
		groups, more, err = gb.ListClusterGroups(r.URL.Query().Get("prefix"), r.URL.Query().Get("after"), limit)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"groups": groups}
	if groups == nil {
		out["groups"] = []groupInfoJSON{}
	}
	if more {
		out["next"] = groups[len(groups)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *apiServer) publishClusterGroup(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	body, err := readMessage(w, r)
	n := 0
	if err == nil {
		n, err = gb.PublishClusterGroup(r.Context(), r.PathValue("group"), body)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"sent": n})
}

func (s *apiServer) callClusterGroup(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	timeout := defaultCallTimeout
	if v := r.URL.Query().Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxCallTimeout {
			s.writeError(w, r, badReq("bad_duration", "timeout must be a duration in (0, %v], got %q", maxCallTimeout, v))
			return
		}
		timeout = d
	}
	body, err := readMessage(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	replies, err := gb.CallClusterGroup(ctx, r.PathValue("group"), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if replies == nil {
		replies = []groupReplyJSON{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"replies": replies})
}

// watchClusterGroups streams group events as Server-Sent Events:
//
//	event: join | leave | update | error
//	data: {"type","group","pid","node","meta","count","reason","exit_reason"}
//
// It shares the watch streams' bounds (per token and in total). A watcher
// that falls behind by more than the monitor buffer (1024 events) gets a
// final "error" event; re-read the groups and watch again.
func (s *apiServer) watchClusterGroups(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.groupsBE(w)
	if !ok {
		return
	}
	release, err := s.limits.acquireWatch(identityOf(r).ID, s.acl != nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer release()
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	events, err := gb.WatchClusterGroups(ctx, r.URL.Query().Get("prefix"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": watching groups\n\n")
	flusher.Flush()
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}
