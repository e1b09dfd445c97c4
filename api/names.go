package api

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Names are the cluster-wide names (the Raft-replicated table).
type Names struct{ c *Client }

// Names returns the global names endpoints.
func (c *Client) Names() *Names { return &Names{c} }

// Register gives the live process pid (on the agent's node) the name once
// a Raft quorum committed it. meta is any JSON value, nil for none. A taken
// name is an *Error matching ErrNameTaken, with Owner set.
// PUT /v1/names/{name}.
func (n *Names) Register(ctx context.Context, name string, pid PID, meta any) (*Registration, error) {
	body := map[string]any{"pid": pid}
	if meta != nil {
		body["meta"] = meta
	}
	var reg Registration
	if err := n.c.do(ctx, request{method: "PUT", path: namePath(name), body: body}, &reg); err != nil {
		return nil, err
	}
	return &reg, nil
}

// RegisterWait is a blocking register (PUT /v1/names/{name}?wait=): while
// another process holds name, the agent waits up to wait (at most 60 s)
// for it to be free and registers then; when wait runs out the error is
// ErrNameTaken with the owner. A campaign: loop on it until it succeeds.
func (n *Names) RegisterWait(ctx context.Context, name string, pid PID, meta any, wait time.Duration) (*Registration, error) {
	body := map[string]any{"pid": pid}
	if meta != nil {
		body["meta"] = meta
	}
	q := url.Values{"wait": {durationString(wait)}}
	var reg Registration
	if err := n.c.do(ctx, request{method: "PUT", path: namePath(name), query: q, body: body}, &reg); err != nil {
		return nil, err
	}
	return &reg, nil
}

// ReadOptions choose a read's consistency.
type ReadOptions struct {
	// Consistent asks the leader to verify the read (default: the agent's
	// replica, which reports Stale when it lags).
	Consistent bool
}

func (o ReadOptions) query() url.Values {
	q := url.Values{}
	if o.Consistent {
		q.Set("consistent", "1")
	}
	return q
}

// Lookup reads a name; ErrNotFound if nobody holds it.
// GET /v1/names/{name}.
func (n *Names) Lookup(ctx context.Context, name string, o ReadOptions) (*Registration, error) {
	var reg Registration
	if err := n.c.do(ctx, request{method: "GET", path: namePath(name), query: o.query()}, &reg); err != nil {
		return nil, err
	}
	return &reg, nil
}

// Unregister removes name on behalf of its owner pid (ErrNotOwner if pid
// does not own it). DELETE /v1/names/{name}?pid=.
func (n *Names) Unregister(ctx context.Context, name string, pid PID) error {
	q := url.Values{"pid": {string(pid)}}
	return n.c.do(ctx, request{method: "DELETE", path: namePath(name), query: q}, nil)
}

// Send delivers msg to the name's owner, carrying its fence.
// POST /v1/names/{name}/messages.
func (n *Names) Send(ctx context.Context, name string, msg any) (*Sent, error) {
	var s Sent
	if err := n.c.do(ctx, request{method: "POST", path: namePath(name) + "/messages", body: msg}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListOptions select one page of a list, sorted by name.
type ListOptions struct {
	// Prefix keeps names that start with it.
	Prefix string
	// Limit is the page size (0: the agent's default, 1000; at most 10000).
	Limit int
	// After is the cursor of the page to read: the Next of the previous
	// page (exclusive). Empty: the first page.
	After string
	ReadOptions
}

func (o ListOptions) query() url.Values {
	q := o.ReadOptions.query()
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	return q
}

// NamePage is one page of names.
type NamePage struct {
	Names []Registration `json:"names"`
	// Next is the cursor of the next page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// List reads one page of names. GET /v1/names.
func (n *Names) List(ctx context.Context, o ListOptions) (*NamePage, error) {
	var p NamePage
	if err := n.c.do(ctx, request{method: "GET", path: "/v1/names", query: o.query()}, &p); err != nil {
		return nil, err
	}
	if p.Names == nil {
		p.Names = []Registration{}
	}
	return &p, nil
}

// ListAll reads every page (o.After is the starting cursor) and returns
// all names. Pages are separate reads: a name may come and go between two.
func (n *Names) ListAll(ctx context.Context, o ListOptions) ([]Registration, error) {
	all := []Registration{}
	for {
		p, err := n.List(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Names...)
		if p.Next == "" || p.Next == o.After {
			return all, nil
		}
		o.After = p.Next
	}
}

func namePath(name string) string { return "/v1/names/" + url.PathEscape(name) }
