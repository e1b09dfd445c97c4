package api

import (
	"context"
	"net/url"
)

// Local are the node-scoped names and duplicate-key groups of the agent's
// own node (Elixir's Registry): no Raft, no other node sees them.
type Local struct{ c *Client }

// Local returns the local names and groups endpoints.
func (c *Client) Local() *Local { return &Local{c} }

// LocalName is a local name and its owner.
type LocalName struct {
	Key string `json:"key"`
	PID PID    `json:"pid"`
}

// Register gives the live local process pid the unique key; a taken key
// is ErrNameTaken. PUT /v1/local/names/{key}.
func (l *Local) Register(ctx context.Context, key string, pid PID) (*LocalName, error) {
	var a LocalName
	err := l.c.do(ctx, request{method: "PUT", path: localPath("names", key), body: map[string]PID{"pid": pid}}, &a)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Lookup returns the owner of key; ErrNotFound if none.
// GET /v1/local/names/{key}.
func (l *Local) Lookup(ctx context.Context, key string) (*LocalName, error) {
	var a LocalName
	if err := l.c.do(ctx, request{method: "GET", path: localPath("names", key)}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Unregister removes key if pid owns it. DELETE /v1/local/names/{key}?pid=.
func (l *Local) Unregister(ctx context.Context, key string, pid PID) error {
	return l.c.do(ctx, request{method: "DELETE", path: localPath("names", key), query: url.Values{"pid": {string(pid)}}}, nil)
}

// Join adds pid to the local group key. PUT /v1/local/groups/{key}.
func (l *Local) Join(ctx context.Context, key string, pid PID) error {
	return l.c.do(ctx, request{method: "PUT", path: localPath("groups", key), body: map[string]PID{"pid": pid}}, nil)
}

// Members lists the local group's members (empty when none).
// GET /v1/local/groups/{key}.
func (l *Local) Members(ctx context.Context, key string) ([]PID, error) {
	var a struct {
		Members []PID `json:"members"`
	}
	if err := l.c.do(ctx, request{method: "GET", path: localPath("groups", key)}, &a); err != nil {
		return nil, err
	}
	if a.Members == nil {
		a.Members = []PID{}
	}
	return a.Members, nil
}

// Leave removes pid from the group; ErrNotFound if not a member.
// DELETE /v1/local/groups/{key}?pid=.
func (l *Local) Leave(ctx context.Context, key string, pid PID) error {
	return l.c.do(ctx, request{method: "DELETE", path: localPath("groups", key), query: url.Values{"pid": {string(pid)}}}, nil)
}

// SendGroup delivers msg to every member of the local group and returns
// how many got it. POST /v1/local/groups/{key}/messages.
func (l *Local) SendGroup(ctx context.Context, key string, msg any) (int, error) {
	var a struct {
		Sent int `json:"sent"`
	}
	if err := l.c.do(ctx, request{method: "POST", path: localPath("groups", key) + "/messages", body: msg}, &a); err != nil {
		return 0, err
	}
	return a.Sent, nil
}

func localPath(kind, key string) string { return "/v1/local/" + kind + "/" + url.PathEscape(key) }
