package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// testAPI is the HTTP API over a fake backend with a manual clock.
type testAPI struct {
	t           testing.TB
	fake        *fakeBackend
	clk         *fakeClock
	api         *apiServer
	base        string // http://host:port
	client      *http.Client
	stopStreams context.CancelFunc
	// hdr is added to every request (an ACL token, an Origin).
	hdr http.Header
}

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	return newTestAPIWith(t, nil)
}

// newTestAPIWith is newTestAPI with a hook that configures the server
// (ACLs, limits, browser policy) before it serves.
func newTestAPIWith(t testing.TB, tune func(*apiServer)) *testAPI {
	t.Helper()
	fake, clk := newFakeBackend(), newFakeClock()
	stopping, stop := context.WithCancel(context.Background())
	metrics, err := serveMetrics(nil, fake, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	api := &apiServer{
		be: fake, clients: newClients(fake, clk), log: testLogger(t),
		metrics: metrics, stopping: stopping,
	}
	if tune != nil {
		tune(api)
	}
	srv := httptest.NewServer(api.handler())
	a := &testAPI{t: t, fake: fake, clk: clk, api: api, base: srv.URL, client: srv.Client(), stopStreams: stop}
	t.Cleanup(func() {
		stop()
		srv.Close()
		fake.close()
	})
	return a
}

// testLogger sends logs to t.Log so a passing run is quiet. Lines logged
// after the test's cleanups ran (memberlist's goroutines outlive its
// Shutdown by a moment) are dropped instead of panicking the test binary.
func testLogger(t testing.TB) hclog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: w})
}

type tWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// do sends a request and decodes a JSON object answer (nil for no body).
func (a *testAPI) do(method, path, body string) (int, http.Header, map[string]any) {
	a.t.Helper()
	st, hdr, raw := a.rawDo(method, path, body)
	if len(raw) == 0 {
		return st, hdr, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatalf("%s %s: answer is not a JSON object: %v: %q", method, path, err, raw)
	}
	return st, hdr, out
}

// rawDo sends a request (with Content-Type: application/json and a.hdr)
// and returns the answer undecoded.
func (a *testAPI) rawDo(method, path, body string) (int, http.Header, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range a.hdr {
		req.Header[k] = v
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// expect checks the status and, for errors, the code.
func (a *testAPI) expect(method, path, body string, wantStatus int, wantCode string) map[string]any {
	a.t.Helper()
	st, _, out := a.do(method, path, body)
	if st != wantStatus {
		a.t.Fatalf("%s %s: status %d, want %d (%v)", method, path, st, wantStatus, out)
	}
	if wantCode != "" {
		if out["code"] != wantCode || out["error"] == "" || out["error"] == nil {
			a.t.Fatalf("%s %s: body %v, want code %q and an error text", method, path, out, wantCode)
		}
	}
	return out
}

// spawn creates a client process and returns its pid string.
func (a *testAPI) spawn(ttl string) string {
	a.t.Helper()
	body := ""
	if ttl != "" {
		body = `{"ttl":"` + ttl + `"}`
	}
	out := a.expect("POST", "/v1/processes", body, http.StatusCreated, "")
	pid, _ := out["pid"].(string)
	if _, err := transport.ParsePID(pid); err != nil {
		a.t.Fatalf("spawn: pid %q: %v", pid, err)
	}
	return pid
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	waitWithin(t, 5*time.Second, what, cond)
}

// waitWithin polls cond until it holds or d passes, then fails with the
// last error cond returned.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, last)
}

func mustPID(t *testing.T, s string) transport.PID {
	t.Helper()
	pid, err := transport.ParsePID(s)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
