package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRenderBody(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{json.RawMessage(`{"a":1}`), `{"a":1}`},
		{[]byte(`[1,2]`), `[1,2]`},
		{[]byte{0xff, 0x00}, `"/wA="`},
		{"hi", `"hi"`},
		{map[any]any{int8(1): "x"}, `{"1":"x"}`},
		{[]any{map[any]any{"k": []any{1}}}, `[{"k":[1]}]`},
		{math.NaN(), `{"text":"NaN","unrenderable":"float64"}`},
		{make(chan int), `{"text":`},
	}
	for _, c := range cases {
		got := string(renderBody(c.in))
		if !strings.HasPrefix(got, c.want) || !json.Valid([]byte(got)) {
			t.Errorf("renderBody(%#v) = %s, want %s (valid JSON)", c.in, got, c.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	a := newTestAPI(t)
	a.spawn("")
	a.sink.IncrCounterWithLabels([]string{"raft", "apply"}, 3, []metrics.Label{{Name: "peer", Value: `a"b`}})
	a.sink.SetGauge([]string{"memberlist", "health", "score"}, 0)
	a.sink.AddSample([]string{"raft", "commitTime"}, 1.5)
	reason := []metrics.Label{{Name: "reason", Value: "node_down"}}
	for _, v := range []float32{0.1, 0.4, 500} {
		a.sink.AddSampleWithLabels(purgeLatencyKey, v, reason)
	}
	resp, err := a.client.Get(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"# TYPE raft_apply counter\n" + `raft_apply{peer="a\"b"} 3`,
		"# TYPE memberlist_health_score gauge\nmemberlist_health_score 0\n",
		"raft_commitTime_sum 1.5\nraft_commitTime_count 1\n",
		"# TYPE roster_purge_latency_seconds histogram\n",
		`roster_purge_latency_seconds_bucket{reason="node_down",le="0.25"} 1`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="0.5"} 2`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="60"} 2`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="+Inf"} 3`,
		`roster_purge_latency_seconds_count{reason="node_down"} 3`,
		"roster_processes 1\n",
		"roster_node_healthy 1\n",
		"# TYPE roster_messages_dropped_total counter\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q\n%s", want, text)
		}
	}
}

// TestAgentShutdown runs the agent over the fake backend: the first
// signal (ctx) ends long-polls, drains HTTP and leaves.
func TestAgentShutdown(t *testing.T) {
	fake := newFakeBackend()
	defer fake.close()
	left := make(chan struct{})
	open := func(ctx context.Context, cfg *agentConfig, log hclog.Logger) (backend, func(context.Context) error, error) {
		return fake, func(context.Context) error { close(left); return nil }, nil
	}
	cfg, err := parseAgentConfig([]string{"-dev", "-http", "127.0.0.1:0"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	apiCh := make(chan *apiServer, 1)
	done := make(chan error, 1)
	hooks := agentHooks{ready: func(a net.Addr) { addrCh <- a }, api: func(s *apiServer) { apiCh <- s }}
	log := testLogger(t)
	go func() { done <- agent(ctx, cfg, log, nil, open, hooks) }()
	api := <-apiCh
	a := &testAPI{t: t, base: "http://" + (<-addrCh).String(), client: &http.Client{}}
	pid := a.spawn("")
	polled := make(chan int, 1)
	go func() {
		st, _, _ := a.do("GET", "/v1/processes/"+pid+"/messages?wait=60s", "")
		polled <- st
	}()
	waitFor(t, "poll in flight", func() error {
		if n := api.clients.polling.Load(); n != 1 {
			return fmt.Errorf("%d polls", n)
		}
		return nil
	})
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	select {
	case <-left:
	default:
		t.Fatal("leave was not called")
	}
	if st := <-polled; st != http.StatusOK {
		t.Fatalf("in-flight long-poll ended with %d", st)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s with a 60s long-poll open", d)
	}
}

func TestAgentOpenFailure(t *testing.T) {
	cfg, _ := parseAgentConfig([]string{"-dev", "-http", "127.0.0.1:0"}, noEnv)
	open := func(context.Context, *agentConfig, hclog.Logger) (backend, func(context.Context) error, error) {
		return nil, nil, errors.New("disk on fire")
	}
	err := agent(context.Background(), cfg, testLogger(t), nil, open, agentHooks{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("agent: %v", err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg.HTTPAddr = busy.Addr().String()
	if err := agent(context.Background(), cfg, testLogger(t), nil, open, agentHooks{}); err == nil || !strings.Contains(err.Error(), "-http") {
		t.Fatalf("unbindable -http: %v", err)
	}
}
