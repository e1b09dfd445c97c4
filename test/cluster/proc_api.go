package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/roster-dev/roster/api"
)

// procRequestTimeout bounds one API call (long-polls add their wait).
const procRequestTimeout = 5 * time.Second

// procAPI is a client of one agent's HTTP API (the daemon's public
// contract, see README.md). It is safe for
// concurrent use and reports failures as errors, never t.Fatal, so
// workload goroutines can use it.
type procAPI struct {
	base   string // http://host:port
	client *http.Client
	// hdr is added to every request (an ACL token); set before use.
	hdr   http.Header
	typed *api.Client // the api package's client of the same agent (setToken keeps it in step)
}

func newProcAPI(hostport string) *procAPI {
	typed, err := api.NewClient(&api.Config{Address: hostport})
	if err != nil {
		panic(fmt.Sprintf("cluster: api client for %q: %v", hostport, err)) // hostport is ours: 127.0.0.1:port
	}
	return &procAPI{base: "http://" + hostport, client: &http.Client{}, typed: typed}
}

// setToken makes every request, raw and typed, present the ACL token.
func (p *procAPI) setToken(token string) {
	p.hdr = http.Header{"Authorization": {"Bearer " + token}}
	typed, err := api.NewClient(&api.Config{Address: strings.TrimPrefix(p.base, "http://"), Token: token})
	if err != nil {
		panic(fmt.Sprintf("cluster: api client for %q: %v", p.base, err)) // the address is ours: 127.0.0.1:port
	}
	p.typed = typed
}

// Client returns the api package's client of this agent: the contract
// tests go through it where they test semantics, and through raw requests
// where they test status codes and bad input.
func (p *procAPI) Client() *api.Client { return p.typed }

// procAnswer is a decoded answer: status and JSON object (nil if empty).
type procAnswer struct {
	Status int
	Body   map[string]any
}

// str returns a string field of the answer ("" if absent).
func (a procAnswer) str(key string) string {
	s, _ := a.Body[key].(string)
	return s
}

// do sends one request with procRequestTimeout plus extra.
func (p *procAPI) do(ctx context.Context, method, path, body string, extra time.Duration) (procAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, procRequestTimeout+extra)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return procAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range p.hdr {
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return procAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return procAnswer{}, fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	a := procAnswer{Status: resp.StatusCode}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &a.Body); err != nil {
			return a, fmt.Errorf("%w: %s %s: not a JSON object: %q", ErrProcAPI, method, path, raw)
		}
	}
	return a, nil
}

// expect is do that also wants a given status.
func (p *procAPI) expect(ctx context.Context, method, path, body string, want int) (procAnswer, error) {
	a, err := p.do(ctx, method, path, body, 0)
	if err != nil {
		return a, err
	}
	if a.Status != want {
		return a, fmt.Errorf("%w: %s %s: status %d, want %d: %v", ErrProcAPI, method, path, a.Status, want, a.Body)
	}
	return a, nil
}

// healthy returns nil when GET /v1/health answers 200.
func (p *procAPI) healthy(ctx context.Context) error {
	_, err := p.expect(ctx, "GET", "/v1/health", "", http.StatusOK)
	return err
}

// status returns GET /v1/status.
func (p *procAPI) status(ctx context.Context) (map[string]any, error) {
	a, err := p.expect(ctx, "GET", "/v1/status", "", http.StatusOK)
	return a.Body, err
}

// spawn creates a mailbox process with the given TTL and returns its pid.
func (p *procAPI) spawn(ctx context.Context, ttl time.Duration) (string, error) {
	a, err := p.expect(ctx, "POST", "/v1/processes", fmt.Sprintf(`{"ttl":%q}`, ttl.String()), http.StatusCreated)
	if err != nil {
		return "", err
	}
	return a.str("pid"), nil
}

// register registers a global name for pid and returns the answer (201 or
// an error status); err is set only when no answer came.
func (p *procAPI) register(ctx context.Context, name, pid string) (procAnswer, error) {
	return p.do(ctx, "PUT", "/v1/names/"+url.PathEscape(name), fmt.Sprintf(`{"pid":%q}`, pid), 0)
}

// lookup reads name from this agent's replica: pid and fence, or status
// 404 when the replica does not hold it.
func (p *procAPI) lookup(ctx context.Context, name string) (procAnswer, error) {
	return p.do(ctx, "GET", "/v1/names/"+url.PathEscape(name), "", 0)
}

// poll long-polls pid's mailbox for up to wait and returns the message
// bodies.
func (p *procAPI) poll(ctx context.Context, pid string, wait time.Duration) ([]any, error) {
	a, err := p.do(ctx, "GET", "/v1/processes/"+url.PathEscape(pid)+"/messages?wait="+wait.String(), "", wait)
	if err != nil {
		return nil, err
	}
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("%w: poll %s: status %d: %v", ErrProcAPI, pid, a.Status, a.Body)
	}
	msgs, _ := a.Body["messages"].([]any)
	var bodies []any
	for _, m := range msgs {
		if mm, ok := m.(map[string]any); ok {
			bodies = append(bodies, mm["body"])
		}
	}
	return bodies, nil
}
