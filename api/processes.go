package api

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Processes are mailbox processes owned by the client: real processes on
// the agent's node that can own names and receive messages from anywhere,
// and exit when their TTL passes without a renewal or a poll.
type Processes struct{ c *Client }

// Processes returns the processes endpoints.
func (c *Client) Processes() *Processes { return &Processes{c} }

type ttlAnswer struct {
	PID PID    `json:"pid"`
	TTL string `json:"ttl"`
}

func (a ttlAnswer) process() *Process {
	d, _ := time.ParseDuration(a.TTL)
	return &Process{PID: a.PID, TTL: d}
}

// Spawn starts a mailbox process with the given TTL (0: the agent's
// default, 30 s). POST /v1/processes.
func (p *Processes) Spawn(ctx context.Context, ttl time.Duration) (*Process, error) {
	var body any = struct{}{}
	if ttl > 0 {
		body = map[string]string{"ttl": durationString(ttl)}
	}
	var a ttlAnswer
	if err := p.c.do(ctx, request{method: "POST", path: "/v1/processes", body: body}, &a); err != nil {
		return nil, err
	}
	return a.process(), nil
}

// Renew resets pid's TTL (0: the default). PUT /v1/processes/{pid}/renew.
func (p *Processes) Renew(ctx context.Context, pid PID, ttl time.Duration) (*Process, error) {
	var body any = struct{}{}
	if ttl > 0 {
		body = map[string]string{"ttl": durationString(ttl)}
	}
	var a ttlAnswer
	if err := p.c.do(ctx, request{method: "PUT", path: pidPath(pid) + "/renew", body: body}, &a); err != nil {
		return nil, err
	}
	return a.process(), nil
}

// Kill makes pid exit normally; its names go with it.
// DELETE /v1/processes/{pid}.
func (p *Processes) Kill(ctx context.Context, pid PID) error {
	return p.c.do(ctx, request{method: "DELETE", path: pidPath(pid)}, nil)
}

// Send delivers msg (any JSON value; json.RawMessage is sent as is) to
// pid on any node. POST /v1/processes/{pid}/messages.
func (p *Processes) Send(ctx context.Context, pid PID, msg any) error {
	return p.c.do(ctx, request{method: "POST", path: pidPath(pid) + "/messages", body: msg}, nil)
}

// ReceiveOptions tune a long-poll.
type ReceiveOptions struct {
	// Wait is how long to wait for a first message (0: answer at once;
	// the agent caps it at 60 s). ctx should allow for it.
	Wait time.Duration
	// Max is the most messages to take (0: the agent's default, 100).
	Max int
}

// Receive takes up to o.Max messages from pid's mailbox, waiting up to
// o.Wait for the first; none coming is an empty slice and a nil error.
// GET /v1/processes/{pid}/messages.
func (p *Processes) Receive(ctx context.Context, pid PID, o ReceiveOptions) ([]Message, error) {
	q := url.Values{}
	if o.Wait > 0 {
		q.Set("wait", durationString(o.Wait))
	}
	if o.Max > 0 {
		q.Set("max", strconv.Itoa(o.Max))
	}
	var a struct {
		Messages []Message `json:"messages"`
	}
	if err := p.c.do(ctx, request{method: "GET", path: pidPath(pid) + "/messages", query: q}, &a); err != nil {
		return nil, err
	}
	if a.Messages == nil {
		a.Messages = []Message{}
	}
	return a.Messages, nil
}

func pidPath(pid PID) string { return "/v1/processes/" + url.PathEscape(string(pid)) }
