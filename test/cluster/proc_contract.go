package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"time"
)

// Helpers of the end-to-end contract tests (proc_contract_test.go): raw
// requests that keep headers and bodies, an SSE watch client, error-body
// checks and a runner for the binary's client commands.

// procRawAnswer is an answer kept as sent: status, headers, body bytes.
type procRawAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// raw sends one request with procRequestTimeout and returns the answer
// undecoded. hdr, if not nil, is added to the request.
func (p *procAPI) raw(ctx context.Context, method, path string, body []byte, hdr http.Header) (procRawAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, procRequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return procRawAnswer{}, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return procRawAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return procRawAnswer{}, fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	return procRawAnswer{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// procWantError checks an error answer: the status, and a JSON body with a
// non-empty "error" and the given "code".
func procWantError(a procAnswer, status int, code string) error {
	if a.Status != status {
		return fmt.Errorf("%w: status %d, want %d: %v", ErrProcAPI, a.Status, status, a.Body)
	}
	if a.str("error") == "" || a.str("code") != code {
		return fmt.Errorf("%w: error body %v, want {error: <text>, code: %q}", ErrProcAPI, a.Body, code)
	}
	return nil
}

// procWantRawError is procWantError for a raw answer; it also wants a
// JSON Content-Type.
func procWantRawError(a procRawAnswer, status int, code string) error {
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: error with Content-Type %q: %q", ErrProcAPI, ct, a.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(a.Body, &body); err != nil {
		return fmt.Errorf("%w: error body not a JSON object: %q", ErrProcAPI, a.Body)
	}
	return procWantError(procAnswer{Status: a.Status, Body: body}, status, code)
}

// procJSONEqual reports whether two JSON texts hold the same value.
func procJSONEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// procMessages long-polls pid's mailbox on api with wait and max (0: the
// server's default) and returns the raw JSON of each message body. wait
// must stay under procRequestTimeout.
func procMessages(ctx context.Context, api *procAPI, pid string, wait time.Duration, max int) ([]json.RawMessage, error) {
	q := url.Values{"wait": {wait.String()}}
	if max > 0 {
		q.Set("max", fmt.Sprint(max))
	}
	path := "/v1/processes/" + url.PathEscape(pid) + "/messages?" + q.Encode()
	a, err := api.raw(ctx, "GET", path, nil, nil)
	if err != nil {
		return nil, err
	}
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("%w: poll %s: status %d: %s", ErrProcAPI, pid, a.Status, a.Body)
	}
	var out struct {
		Messages []struct {
			Body json.RawMessage `json:"body"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return nil, fmt.Errorf("%w: poll %s: %v: %s", ErrProcAPI, pid, err, a.Body)
	}
	bodies := make([]json.RawMessage, len(out.Messages))
	for i, m := range out.Messages {
		bodies[i] = m.Body
	}
	return bodies, nil
}

// procEvent is one Server-Sent Event of GET /v1/watch.
type procEvent struct {
	ID    string
	Event string
	Data  map[string]any
}

// procWatch is an open GET /v1/watch stream read by one goroutine.
type procWatch struct {
	events chan procEvent
	done   chan struct{} // closed when the reader returned
	cancel context.CancelFunc
	err    error // why the reader returned; read after done
}

// errProcWatch is wrapped by the watch client's errors.
var errProcWatch = errors.New("cluster: watch stream")

// procStartWatch opens GET /v1/watch?query with the extra headers hdr. On
// return the agent has subscribed (it sends the headers only after).
func procStartWatch(ctx context.Context, api *procAPI, query string, hdr http.Header) (*procWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, "GET", api.base+"/v1/watch?"+query, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := api.client.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %v", errProcWatch, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%w: status %d %q: %s", errProcWatch, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	w := &procWatch{events: make(chan procEvent, 64), done: make(chan struct{}), cancel: cancel}
	go w.read(resp.Body)
	return w, nil
}

// read parses the stream into events until it ends.
func (w *procWatch) read(body io.ReadCloser) {
	defer close(w.done)
	defer body.Close()
	sc := bufio.NewScanner(body)
	var ev procEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && ev.Event != "":
			w.events <- ev
			ev = procEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
				w.err = fmt.Errorf("%w: bad data line %q: %v", errProcWatch, line, err)
				return
			}
		}
	}
	w.err = sc.Err()
}

// next returns the next event, waiting up to d.
func (w *procWatch) next(d time.Duration) (procEvent, error) {
	select {
	case ev := <-w.events:
		return ev, nil
	case <-w.done:
		select {
		case ev := <-w.events:
			return ev, nil
		default:
		}
		return procEvent{}, fmt.Errorf("%w: ended: %v", errProcWatch, w.err)
	case <-time.After(d):
		return procEvent{}, fmt.Errorf("%w: no event within %v", errProcWatch, d)
	}
}

// quiet returns an error if an event arrives within d.
func (w *procWatch) quiet(d time.Duration) error {
	select {
	case ev := <-w.events:
		return fmt.Errorf("%w: unexpected event %+v", errProcWatch, ev)
	case <-time.After(d):
		return nil
	}
}

// close goes away (cancels the request) and waits up to d for the reader
// to see the stream end.
func (w *procWatch) close(d time.Duration) error {
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%w: still open %v after the client went away", errProcWatch, d)
	}
}

// procRunCLI runs the binary with args and returns its stdout and exit
// code; err is set only when it could not run at all.
func procRunCLI(ctx context.Context, bin string, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() { // CLUSTERNODE_* would change the flags
		if !strings.HasPrefix(kv, "CLUSTERNODE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String() + stderr.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return "", -1, fmt.Errorf("clusternode %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), 0, nil
}

// procDeadAddr returns a loopback HOST:PORT where nothing listens (a port
// just freed).
func procDeadAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}
