package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAgentEndToEnd runs the real stand-alone node (node + global table
// on disk, raft bootstrapped by itself) behind the HTTP API.
func TestAgentEndToEnd(t *testing.T) {
	cfg, err := parseAgentConfig([]string{"-dev", "-node", "e2e", "-http", "127.0.0.1:0", "-raft-port", "0", "-port", "0", "-gossip-port", "0"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.inmemRaft = raceEnabled
	sink, err := newMetricsSink() // the go-metrics global sink: only this test sets it
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- agent(ctx, cfg, testLogger(t), sink, openNode, agentHooks{ready: func(a net.Addr) { addrCh <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-addrCh:
	case err := <-done:
		t.Fatalf("agent: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not start")
	}
	a := &testAPI{t: t, base: "http://" + addr.String(), client: &http.Client{}}
	waitFor(t, "a leader", func() error {
		if st, _, out := a.do("GET", "/v1/health", ""); st != http.StatusOK {
			return fmt.Errorf("health %d %v", st, out)
		}
		return nil
	})
	pid := a.spawn("1m")
	reg := a.expect("PUT", "/v1/names/e2e.svc", `{"pid":"`+pid+`","meta":{"v":1}}`, http.StatusCreated, "")
	a.expect("PUT", "/v1/names/e2e.svc", `{"pid":"`+a.spawn("")+`"}`, http.StatusConflict, "name_taken")
	out := a.expect("GET", "/v1/names/e2e.svc?consistent=1", "", http.StatusOK, "")
	if out["pid"] != pid || out["fence"] != reg["fence"] || out["meta"].(map[string]any)["v"] != float64(1) {
		t.Fatalf("lookup %v, registered %v", out, reg)
	}
	a.expect("POST", "/v1/names/e2e.svc/messages", `{"hello":"world"}`, http.StatusAccepted, "")
	out = a.expect("GET", "/v1/processes/"+pid+"/messages?wait=5s", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["body"].(map[string]any)["hello"] != "world" {
		t.Fatalf("messages %v", out)
	}
	a.expect("PUT", "/v1/local/groups/g", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	a.expect("POST", "/v1/local/groups/g/messages", `[1,2]`, http.StatusAccepted, "")
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNoContent, "")
	waitFor(t, "the name to go with its process", func() error {
		if st, _, _ := a.do("GET", "/v1/names/e2e.svc", ""); st != http.StatusNotFound {
			return fmt.Errorf("status %d", st)
		}
		return nil
	})
	out = a.expect("GET", "/v1/status", "", http.StatusOK, "")
	if out["leader"] != "e2e" || out["raft"].(map[string]any)["state"] != "Leader" {
		t.Fatalf("status %v", out)
	}
	resp, err := a.client.Get(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE raft_apply ", "memberlist_", "roster_processes ", "roster_global_names 0\n", "roster_leader_changes "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not shut down")
	}
}

func noEnv(string) string { return "" }
