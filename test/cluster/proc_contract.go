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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers of the end-to-end contract tests (proc_contract_test.go): raw
// requests that keep headers and bodies, an SSE watch client, error-body
// checks and a runner for the binary's client commands.

// procContractWait bounds every wait for replication or delivery in the
// contract tests (a few Raft round trips on loaded cores).
const procContractWait = 10 * time.Second

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
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range p.hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range p.hdr {
		req.Header[k] = vs
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
	for k, vs := range api.hdr {
		req.Header[k] = vs
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

// procRunCLI runs the binary with args (no CLUSTERNODE_* environment) and
// returns its stdout, followed by its stderr when it exits non-zero, and
// its exit code; err is set only when it could not run at all.
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

// procMust fails the test on err.
func procMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// procExpectError sends one request to api and wants an error answer
// with status and code (procWantError); it returns the answer.
func procExpectError(t *testing.T, api *procAPI, method, path, body string, status int, code string) procAnswer {
	t.Helper()
	a, err := api.do(context.Background(), method, path, body, 0)
	procMust(t, err)
	if err := procWantError(a, status, code); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// procSpawnOn spawns a process with a long TTL on node i.
func procSpawnOn(t *testing.T, c *procCluster, i int) string {
	t.Helper()
	pid, err := c.API(i).spawn(context.Background(), 10*time.Minute)
	procMust(t, err)
	return pid
}

// procRegisterPID registers name for an existing pid on api and returns
// the answer and the fence.
func procRegisterPID(ctx context.Context, api *procAPI, name, pid string) (procAnswer, float64, error) {
	a, err := api.register(ctx, name, pid)
	if err != nil {
		return a, 0, err
	}
	if a.Status != http.StatusCreated {
		return a, 0, fmt.Errorf("%w: register %s: status %d %v", ErrProcAPI, name, a.Status, a.Body)
	}
	fence, _ := a.Body["fence"].(float64)
	return a, fence, nil
}

// procWantEvent reads the next event of w and checks its type, name,
// reason and that its id is "<index>.<n>".
func procWantEvent(t *testing.T, w *procWatch, typ, name, reason string) procEvent {
	t.Helper()
	ev, err := w.next(procContractWait)
	procMust(t, err)
	idx, _ := ev.Data["index"].(float64)
	if ev.Event != typ || ev.Data["type"] != typ || ev.Data["name"] != name || ev.Data["reason"] != reason ||
		!strings.HasPrefix(ev.ID, fmt.Sprintf("%d.", int64(idx))) || idx < 1 {
		t.Fatalf("event %+v, want %s %s reason %s with id <index>.<n>", ev, typ, name, reason)
	}
	return ev
}

// procCLIRunner runs the binary with args and wants an exit code; it
// returns the output.
type procCLIRunner func(wantCode int, args ...string) string

// procCLIStatusMembers checks status and members, as tables and as JSON,
// against node at (a follower) of c.
func procCLIStatusMembers(t *testing.T, c *procCluster, at int, cli procCLIRunner, addr string) {
	out := cli(0, "status", "-http-addr", addr)
	leader := c.Name(c.Leader(context.Background()))
	for _, w := range []string{"node", c.Name(at), "leader", leader, "raft state", "Follower", "voters"} {
		if !strings.Contains(out, w) {
			t.Errorf("status table lacks %q:\n%s", w, out)
		}
	}
	var st struct {
		Node, Leader string
		Voters       []string
		Raft         struct{ State string }
	}
	procMust(t, json.Unmarshal([]byte(cli(0, "status", "-json", "-http-addr", addr)), &st))
	if st.Node != c.Name(at) || st.Leader != leader || len(st.Voters) != 3 || st.Raft.State != "Follower" {
		t.Errorf("status -json %+v", st)
	}
	out = cli(0, "members", "-http-addr", addr)
	if !strings.HasPrefix(out, "NODE") || strings.Count(out, "alive") != 3 {
		t.Errorf("members table, want a header and 3 alive rows:\n%s", out)
	}
	var members []struct{ Node, State string }
	procMust(t, json.Unmarshal([]byte(cli(0, "members", "-json", "-http-addr", addr)), &members))
	var names []string
	for _, m := range members {
		if m.State == "alive" {
			names = append(names, m.Node)
		}
	}
	slices.Sort(names)
	if want := []string{c.Name(0), c.Name(1), c.Name(2)}; !slices.Equal(names, want) {
		t.Errorf("members -json alive %v, want %v", names, want)
	}
}

// procCLINamesWhereisSend checks names -prefix, whereis [-consistent] and
// send by name against node at, the message checked at the owner.
func procCLINamesWhereisSend(t *testing.T, c *procCluster, at int, cli procCLIRunner, addr string) {
	ctx := context.Background()
	owner := (at + 1) % c.Size()
	pid := procSpawnOn(t, c, owner)
	fences := map[string]float64{}
	for _, n := range []string{"cli.b", "cli.a", "clj.x"} {
		_, f, err := procRegisterPID(ctx, c.API(owner), n, pid)
		procMust(t, err)
		fences[n] = f
	}
	procMust(t, procWaitName(ctx, []*procAPI{c.API(at)}, "cli.b", pid, fences["cli.b"], procContractWait))
	procMust(t, procWaitName(ctx, []*procAPI{c.API(at)}, "clj.x", pid, fences["clj.x"], procContractWait))
	out := cli(0, "names", "-prefix", "cli.", "-http-addr", addr)
	if !strings.HasPrefix(out, "NAME") || strings.Contains(out, "clj.x") ||
		!strings.Contains(out, "cli.a") || strings.Index(out, "cli.a") > strings.Index(out, "cli.b") {
		t.Errorf("names -prefix cli. table, want cli.a then cli.b only:\n%s", out)
	}
	var list []struct{ Name, PID string }
	procMust(t, json.Unmarshal([]byte(cli(0, "names", "-prefix", "cli.", "-json", "-http-addr", addr)), &list))
	if len(list) != 2 || list[0].Name != "cli.a" || list[1].Name != "cli.b" || list[0].PID != pid {
		t.Errorf("names -json %+v", list)
	}
	if out := cli(0, "whereis", "cli.a", "-http-addr", addr); !strings.Contains(out, pid) {
		t.Errorf("whereis cli.a printed %q, want pid %s", out, pid)
	}
	var w struct {
		PID   string
		Fence float64
	}
	procMust(t, json.Unmarshal([]byte(cli(0, "whereis", "cli.a", "-consistent", "-json", "-http-addr", addr)), &w))
	if w.PID != pid || w.Fence != fences["cli.a"] {
		t.Errorf("whereis -consistent -json %+v, want pid %s fence %v", w, pid, fences["cli.a"])
	}
	cli(1, "whereis", "cli.nothing", "-http-addr", addr)
	if out := cli(0, "send", "cli.b", `{"op":"ping"}`, "-http-addr", addr); !strings.Contains(out, "sent to "+pid) {
		t.Errorf("send printed %q, want sent to %s", out, pid)
	}
	var sent struct {
		PID   string
		Fence float64
	}
	procMust(t, json.Unmarshal([]byte(cli(0, "send", "cli.b", `[2]`, "-json", "-http-addr", addr)), &sent))
	if sent.PID != pid || sent.Fence != fences["cli.b"] {
		t.Errorf("send -json %+v, want pid %s fence %v", sent, pid, fences["cli.b"])
	}
	cli(2, "send", "cli.b", `{not json`, "-http-addr", addr)
	var got []json.RawMessage
	procMust(t, WaitFor(procContractWait, func() error {
		more, err := procMessages(ctx, c.API(owner), pid, time.Second, 0)
		got = append(got, more...)
		if err == nil && len(got) < 2 {
			err = fmt.Errorf("owner received %s so far", got)
		}
		return err
	}))
	if len(got) != 2 || !procJSONEqual(got[0], []byte(`{"op":"ping"}`)) || !procJSONEqual(got[1], []byte(`[2]`)) {
		t.Errorf("owner received %s, want the two sent messages", got)
	}
}

// procMetricsWant are texts a healthy cluster member's /metrics holds,
// each at the start of a line: one of each reported family and the purge
// latency histogram (a 3-agent cluster).
var procMetricsWant = []string{
	"raft_", "memberlist_", "roster_node_healthy 1", `roster_members{state="alive"} 3`,
	"# TYPE roster_purge_latency_seconds histogram", `roster_purge_latency_seconds_bucket{le="0.25"}`,
	`roster_purge_latency_seconds_bucket{le="+Inf"}`, "roster_purge_latency_seconds_count",
}

// procCheckMetrics checks that api serves GET /metrics as Prometheus text
// holding procMetricsWant.
func procCheckMetrics(ctx context.Context, api *procAPI) error {
	a, err := api.raw(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return err
	}
	if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/plain") {
		return fmt.Errorf("%w: /metrics: status %d, Content-Type %q", ErrProcAPI, a.Status, a.Header.Get("Content-Type"))
	}
	text := "\n" + string(a.Body)
	for _, w := range procMetricsWant {
		if !strings.Contains(text, "\n"+w) {
			return fmt.Errorf("%w: /metrics has no line starting %q", ErrProcAPI, w)
		}
	}
	return nil
}

// procBadRequest is a request the API must refuse with status and code.
type procBadRequest struct {
	method, path string
	body         []byte
	status       int
	code         string
}

// procBadRequests are the bad-input rows of the API table: malformed JSON
// and unknown fields, a body over 1 MiB, bad pids, names over 255 bytes,
// bad durations and parameters, an unknown path. pid is a live process.
func procBadRequests(pid string) []procBadRequest {
	huge := append(append([]byte(`{"pid":"`), strings.Repeat("x", 1<<20)...), `"}`...)
	long := strings.Repeat("n", 256)
	return []procBadRequest{
		{"POST", "/v1/processes", []byte(`{"ttl":`), http.StatusBadRequest, "bad_json"},
		{"POST", "/v1/processes", []byte(`{"ttl":"1s","color":"red"}`), http.StatusBadRequest, "bad_json"},
		{"PUT", "/v1/names/big", huge, http.StatusRequestEntityTooLarge, "too_large"},
		{"POST", "/v1/names/big/messages", huge, http.StatusRequestEntityTooLarge, "too_large"},
		{"POST", "/v1/processes/not-a-pid/messages", []byte(`1`), http.StatusBadRequest, "bad_pid"},
		{"PUT", "/v1/names/ok", []byte(`{"pid":"nope"}`), http.StatusBadRequest, "bad_pid"},
		{"GET", "/v1/names/" + long, nil, http.StatusBadRequest, "invalid_name"},
		{"PUT", "/v1/local/names/" + long, []byte(fmt.Sprintf(`{"pid":%q}`, pid)), http.StatusBadRequest, "invalid_name"},
		{"POST", "/v1/processes", []byte(`{"ttl":"soon"}`), http.StatusBadRequest, "bad_duration"},
		{"POST", "/v1/processes", []byte(`{"ttl":"1ms"}`), http.StatusBadRequest, "bad_duration"},
		{"GET", "/v1/processes/" + url.PathEscape(pid) + "/messages?wait=forever", nil, http.StatusBadRequest, "bad_duration"},
		{"GET", "/v1/processes/" + url.PathEscape(pid) + "/messages?max=0", nil, http.StatusBadRequest, "bad_param"},
		{"GET", "/v1/names/x?consistent=maybe", nil, http.StatusBadRequest, "bad_param"},
		{"GET", "/v1/watch?index=x.y", nil, http.StatusBadRequest, "bad_param"},
		{"GET", "/v1/nothing-here", nil, http.StatusNotFound, "not_found"},
		{"POST", "/v1/processes/" + url.PathEscape(pid) + "/messages", []byte(`{"unterminated`), http.StatusBadRequest, "bad_json"},
	}
}

// procAllowed maps "METHOD path" requests the API does not route to the
// Allow header its 405 must carry.
var procAllowed = map[string]string{
	"DELETE /v1/health":            "GET, HEAD",
	"POST /v1/names/x":             "DELETE, GET, HEAD, PUT",
	"GET /v1/processes":            "POST",
	"PATCH /v1/local/groups/g":     "DELETE, GET, HEAD, PUT",
	"PUT /v1/processes/p/messages": "GET, HEAD, POST",
}

// procAppliedAll returns nil once every node's /v1/status reports an FSM
// applied index of at least index (> 0).
func procAppliedAll(c *procCluster, index float64) error {
	if index < 1 {
		return fmt.Errorf("%w: raft index %v, want >= 1", ErrProcAPI, index)
	}
	for i := range c.Size() {
		st, err := c.API(i).status(context.Background())
		if err != nil {
			return err
		}
		raft, _ := st["raft"].(map[string]any)
		if applied, _ := raft["applied_index"].(float64); applied < index {
			return fmt.Errorf("%s: applied_index %v < %v", c.Name(i), raft["applied_index"], index)
		}
	}
	return nil
}

// procWatchStreams is how many watch streams procContractWatchGone opens
// and drops.
const procWatchStreams = 20

// procGoroutines reads go_goroutines from api's /metrics.
func procGoroutines(ctx context.Context, api *procAPI) (float64, error) {
	a, err := api.raw(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(a.Body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%w: /metrics: status %d, no go_goroutines", ErrProcAPI, a.Status)
}
