package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
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
