package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Groups are the cluster-wide process groups (available, not consistent:
// each node serves its own view; no Raft).
type Groups struct{ c *Client }

// Groups returns the cluster-wide group endpoints.
func (c *Client) Groups() *Groups { return &Groups{c} }

// GroupMember is one member of a group.
type GroupMember struct {
	PID   PID             `json:"pid"`
	Node  NodeID          `json:"node"`
	Meta  json.RawMessage `json:"meta,omitempty"`
	Count int             `json:"count"`
}

// GroupInfo is a group with its member counts (on every node, and on the
// agent's own).
type GroupInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	Local   int    `json:"local"`
}

// GroupReply is one member's answer to Call: Reply, or Error.
type GroupReply struct {
	PID   PID             `json:"pid"`
	Reply json.RawMessage `json:"reply,omitempty"`
	Error string          `json:"error,omitempty"`
}

func groupPath(group string) string { return "/v1/groups/" + url.PathEscape(group) }

// Join adds the live process pid (on the agent's node) to group with meta
// (any JSON value, nil for none); joining again counts one more join.
// PUT /v1/groups/{group}/members.
func (g *Groups) Join(ctx context.Context, group string, pid PID, meta any) (*GroupMember, error) {
	body := map[string]any{"pid": pid}
	if meta != nil {
		body["meta"] = meta
	}
	var m GroupMember
	if err := g.c.do(ctx, request{method: "PUT", path: groupPath(group) + "/members", body: body}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Leave undoes one Join; ErrNotFound if pid is not a member.
// DELETE /v1/groups/{group}/members?pid=.
func (g *Groups) Leave(ctx context.Context, group string, pid PID) error {
	return g.c.do(ctx, request{method: "DELETE", path: groupPath(group) + "/members", query: url.Values{"pid": {string(pid)}}}, nil)
}

// Members returns at most limit (0: the agent's default, 1000) of group's
// members as the agent sees them, and whether more remain.
// GET /v1/groups/{group}.
func (g *Groups) Members(ctx context.Context, group string, limit int) ([]GroupMember, bool, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var a struct {
		Members   []GroupMember `json:"members"`
		Truncated bool          `json:"truncated"`
	}
	if err := g.c.do(ctx, request{method: "GET", path: groupPath(group), query: q}, &a); err != nil {
		return nil, false, err
	}
	if a.Members == nil {
		a.Members = []GroupMember{}
	}
	return a.Members, a.Truncated, nil
}

// ListAll lists every group starting with prefix, reading the agent's
// pages in turn. GET /v1/groups?prefix=&after=.
func (g *Groups) ListAll(ctx context.Context, prefix string) ([]GroupInfo, error) {
	all := []GroupInfo{}
	after := ""
	for {
		q := url.Values{"prefix": {prefix}}
		if after != "" {
			q.Set("after", after)
		}
		var a struct {
			Groups []GroupInfo `json:"groups"`
			Next   string      `json:"next"`
		}
		if err := g.c.do(ctx, request{method: "GET", path: "/v1/groups", query: q}, &a); err != nil {
			return nil, err
		}
		all = append(all, a.Groups...)
		if a.Next == "" {
			return all, nil
		}
		after = a.Next
	}
}

// Publish sends msg (any JSON value) to every member and returns how many
// it was sent to. POST /v1/groups/{group}/messages.
func (g *Groups) Publish(ctx context.Context, group string, msg any) (int, error) {
	var a struct {
		Sent int `json:"sent"`
	}
	if err := g.c.do(ctx, request{method: "POST", path: groupPath(group) + "/messages", body: msg}, &a); err != nil {
		return 0, err
	}
	return a.Sent, nil
}

// Call sends req to every member as a group call and returns each one's
// reply or error, waiting at most timeout (0: the agent's default, 5 s).
// POST /v1/groups/{group}/call.
func (g *Groups) Call(ctx context.Context, group string, req any, timeout time.Duration) ([]GroupReply, error) {
	q := url.Values{}
	if timeout > 0 {
		q.Set("timeout", durationString(timeout))
	}
	var a struct {
		Replies []GroupReply `json:"replies"`
	}
	if err := g.c.do(ctx, request{method: "POST", path: groupPath(group) + "/call", query: q, body: req}, &a); err != nil {
		return nil, err
	}
	return a.Replies, nil
}
