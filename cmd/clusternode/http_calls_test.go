package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/api"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/cluster"
)

// realAPI serves the API over a real single-server cluster node.
func realAPI(t *testing.T) (*testAPI, *cluster.Node) {
	t.Helper()
	cfg := cluster.DefaultConfig()
	cfg.NodeID = "calls"
	cfg.InmemStore = true
	cfg.Profile = cluster.ProfileFast
	cfg.Logger = testLogger(t)
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	be := &nodeBackend{n: n}
	metrics, err := serveMetrics(nil, be, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stopping, stop := context.WithCancel(context.Background())
	api := &apiServer{be: be, clients: newClients(be, wallClock{}), log: testLogger(t), metrics: metrics, stopping: stopping}
	srv := httptest.NewServer(api.handler())
	t.Cleanup(func() {
		stop()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := n.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	return &testAPI{t: t, api: api, base: srv.URL, client: srv.Client()}, n
}

// spawnEcho spawns a Go process that answers calls with {"echo": body};
// "die" makes it exit with an error, "ignore" goes unanswered.
func spawnEcho(t *testing.T, n *cluster.Node) node.PID {
	t.Helper()
	pid, err := n.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if !m.IsCall() {
				continue
			}
			var req any
			_ = json.Unmarshal(m.Body.(json.RawMessage), &req)
			switch req {
			case "die":
				return errors.New("died mid-call")
			case "ignore":
				continue
			}
			_ = p.Reply(ctx, m.ReplyTo(), map[string]any{"echo": req})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestHTTPCall(t *testing.T) {
	a, n := realAPI(t)
	ctx := context.Background()
	srv := spawnEcho(t, n)
	if err := n.Register("echo", srv); err != nil {
		t.Fatal(err)
	}
	if _, err := n.RegisterGlobal(ctx, "svc.echo", srv, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/local/names/echo/call", "/v1/names/svc.echo/call", "/v1/processes/" + srv.String() + "/call"} {
		out := a.expect("POST", path, `{"n":1}`, http.StatusOK, "")
		if e, _ := out["echo"].(map[string]any); e["n"] != float64(1) {
			t.Fatalf("%s: reply %v", path, out)
		}
	}
	a.expect("POST", "/v1/local/names/nobody/call", `1`, http.StatusNotFound, "noproc")
	a.expect("POST", "/v1/names/svc.nobody/call", `1`, http.StatusNotFound, "noproc")
	a.expect("POST", "/v1/local/names/echo/call?timeout=50ms", `"ignore"`, http.StatusGatewayTimeout, "timeout")
	a.expect("POST", "/v1/local/names/echo/call?timeout=-1s", `1`, http.StatusBadRequest, "bad_duration")
	a.expect("POST", "/v1/local/names/echo/call", `not json`, http.StatusBadRequest, "bad_json")
	a.expect("POST", "/v1/processes/not-a-pid/call", `1`, http.StatusBadRequest, "bad_pid")
	a.expect("POST", "/v1/local/names/echo/call", `"die"`, http.StatusBadGateway, "callee_exited")
	a.expect("POST", "/v1/processes/"+srv.String()+"/call", `1`, http.StatusNotFound, "noproc")
}

func TestHTTPProcessAnswersCalls(t *testing.T) {
	a, n := realAPI(t)
	pid := a.spawn("1m")
	a.expect("PUT", "/v1/local/names/h", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	type result struct {
		st   int
		body string
	}
	done := make(chan result, 1)
	go func() {
		st, _, raw := a.rawDo("POST", "/v1/local/names/h/call?timeout=10s", `{"q":"hi"}`)
		done <- result{st, strings.TrimSpace(string(raw))}
	}()
	var call map[string]any
	waitFor(t, "the call in the long-poll", func() error {
		out := a.expect("GET", "/v1/processes/"+pid+"/messages?wait=1s", "", http.StatusOK, "")
		msgs, _ := out["messages"].([]any)
		if len(msgs) == 0 {
			return errors.New("no message yet")
		}
		m, _ := msgs[0].(map[string]any)
		call, _ = m["call"].(map[string]any)
		if call == nil {
			t.Fatalf("message %v is not a call", m)
		}
		return nil
	})
	if body, _ := call["body"].(map[string]any); body["q"] != "hi" || call["ref"] == "" {
		t.Fatalf("call %v", call)
	}
	ref, _ := call["ref"].(string)
	if st, _, _ := a.rawDo("POST", "/v1/processes/"+pid+"/replies/"+ref, `{"a":42}`); st != http.StatusNoContent {
		t.Fatalf("reply: status %d", st)
	}
	r := <-done
	if r.st != http.StatusOK || r.body != `{"a":42}` {
		t.Fatalf("call answered %d %s", r.st, r.body)
	}
	a.expect("POST", "/v1/processes/"+pid+"/replies/"+ref, `1`, http.StatusNotFound, "unknown_call")
	a.expect("POST", "/v1/processes/"+pid+"/replies/zzz", `1`, http.StatusNotFound, "unknown_call")
	// A Go caller gets the HTTP process's reply too.
	goDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := node.CallAs[map[string]any](ctx, n, node.Name("h"), "from go")
		if err == nil && got["ok"] != true {
			err = errors.New("wrong reply")
		}
		goDone <- err
	}()
	waitFor(t, "the Go call in the long-poll", func() error {
		out := a.expect("GET", "/v1/processes/"+pid+"/messages?wait=1s", "", http.StatusOK, "")
		msgs, _ := out["messages"].([]any)
		if len(msgs) == 0 {
			return errors.New("no message yet")
		}
		m, _ := msgs[0].(map[string]any)
		call, _ = m["call"].(map[string]any)
		return nil
	})
	if call["body"] != "from go" {
		t.Fatalf("call %v", call)
	}
	ref, _ = call["ref"].(string)
	if st, _, _ := a.rawDo("POST", "/v1/processes/"+pid+"/replies/"+ref, `{"ok":true}`); st != http.StatusNoContent {
		t.Fatalf("reply: status %d", st)
	}
	if err := <-goDone; err != nil {
		t.Fatal(err)
	}
}

// TestHTTPPendingCallsBounded: an HTTP process that never answers holds at
// most maxPendingCalls calls.
func TestHTTPPendingCallsBounded(t *testing.T) {
	pc := &pendingCalls{}
	var first string
	for i := range maxPendingCalls + 10 {
		ref := pc.add(node.ReplyTo{Caller: node.PID{Node: "x", Incarnation: 1, Serial: 1}, Ref: node.Ref(i + 1)})
		if i == 0 {
			first = ref
		}
	}
	if len(pc.m) != maxPendingCalls {
		t.Fatalf("%d pending, want the bound %d", len(pc.m), maxPendingCalls)
	}
	if _, ok := pc.take(first); ok {
		t.Fatal("the oldest call was not the one evicted")
	}
}

func TestCLICall(t *testing.T) {
	a, n := realAPI(t)
	srv := spawnEcho(t, n)
	if _, err := n.RegisterGlobal(context.Background(), "svc.echo", srv, nil); err != nil {
		t.Fatal(err)
	}
	out, err := a.cli("call", "svc.echo", `{"x":1}`)
	if err != nil || strings.TrimSpace(out) != `{"echo":{"x":1}}` {
		t.Fatalf("call: %v\n%s", err, out)
	}
	if _, err := a.cli("call", "svc.echo", `not json`); exitStatus(err) != 2 {
		t.Fatalf("call with bad JSON: %v", err)
	}
	_, err = a.cli("call", "svc.nobody", `1`)
	var re *api.Error
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || re.Code != "noproc" {
		t.Fatalf("call nobody: %v", err)
	}
	_, err = a.cli("call", "-timeout", "300ms", "svc.echo", `"ignore"`)
	if !errors.As(err, &re) || re.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("call with a timeout: %v", err)
	}
}
