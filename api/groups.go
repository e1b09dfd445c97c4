package api

import (
	"context"
	"encoding/json"
	"fmt"
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

// GroupPage is one page of groups.
type GroupPage struct {
	Groups []GroupInfo `json:"groups"`
	// Next is the cursor of the next page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// List reads one page of groups (Prefix, Limit, After as for names).
// GET /v1/groups.
func (g *Groups) List(ctx context.Context, o ListOptions) (*GroupPage, error) {
	var p GroupPage
	if err := g.c.do(ctx, request{method: "GET", path: "/v1/groups", query: o.query()}, &p); err != nil {
		return nil, err
	}
	if p.Groups == nil {
		p.Groups = []GroupInfo{}
	}
	return &p, nil
}

// GroupEvent is one change to a group, from a groups watch.
type GroupEvent struct {
	// Type is join, leave or update.
	Type  string          `json:"type"`
	Group string          `json:"group,omitempty"`
	PID   PID             `json:"pid,omitempty"`
	Node  NodeID          `json:"node,omitempty"`
	Meta  json.RawMessage `json:"meta,omitempty"`
	Count int             `json:"count,omitempty"`
	// Reason of a leave: leave, process_exit, node_down, node_left;
	// ExitReason is the process's exit reason on process_exit.
	Reason     string `json:"reason,omitempty"`
	ExitReason string `json:"exit_reason,omitempty"`
	// Err, when set, is the channel's last event: the agent ended the
	// stream or the connection broke. List the groups again and re-watch.
	Err string `json:"error,omitempty"`
}

// Watch streams the join, leave and update events of groups starting
// with prefix (GET /v1/groups/watch), from now on. The channel closes when
// ctx is done or the stream ends; a stream that ends for another reason
// than ctx delivers a last event with Err set first.
func (g *Groups) Watch(ctx context.Context, prefix string) (<-chan GroupEvent, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	body, err := g.c.openStream(ctx, "/v1/groups/watch", q)
	if err != nil {
		return nil, err
	}
	out := make(chan GroupEvent, watchBuffer)
	go func() {
		defer close(out)
		defer body.Close()
		err := readSSE(ctx, body, func(_ string, data []byte) (bool, error) {
			var ev GroupEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				return false, fmt.Errorf("api: bad group event %q: %w", data, err)
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			return ev.Err != "", nil
		})
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case out <- GroupEvent{Err: err.Error()}:
		case <-ctx.Done():
		}
	}()
	return out, nil
}
