package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startAgent runs an agent with the real node on free ports and returns a
// client for its API. It stops when the test ends, and must stop cleanly.
func startAgent(t *testing.T, args ...string) *testAPI {
	t.Helper()
	return startAgentWith(t, nil, args...)
}

// startAgentWith is startAgent serving mr on /metrics (nil: a fresh
// registry).
func startAgentWith(t *testing.T, mr *metricsRegistry, args ...string) *testAPI {
	t.Helper()
	base := []string{"-http", "127.0.0.1:0", "-bind", "127.0.0.1", "-port", "0", "-raft-port", "0", "-gossip-port", "0", "-profile", "fast", "-data-dir", t.TempDir()}
	cfg, err := parseAgentConfig(append(base, args...), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	log := testLogger(t).Named(string(cfg.Node))
	go func() {
		done <- agent(ctx, cfg, log, mr, openNode, agentHooks{ready: func(a net.Addr) { addrCh <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent %s stopped with %v", cfg.Node, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("agent %s did not stop", cfg.Node)
		}
	})
	select {
	case a := <-addrCh:
		return &testAPI{t: t, base: "http://" + a.String(), client: &http.Client{}}
	case err := <-done:
		t.Fatalf("agent %s: %v", cfg.Node, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("agent %s did not start", cfg.Node)
	}
	return nil
}

// TestThreeAgents forms a 3-server cluster of real agents with
// -bootstrap-expect 3 and -join, registers a name on one node and sends to
// it through another.
func TestThreeAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a real 3-node cluster")
	}
	key := "-encrypt=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	a1 := startAgent(t, "-node", "a1", "-bootstrap-expect", "3", key)
	st := a1.expect("GET", "/v1/status", "", http.StatusOK, "")
	seed := st["members"].([]any)[0].(map[string]any)["addr"].(string)
	a2 := startAgent(t, "-node", "a2", "-bootstrap-expect", "3", "-join", seed, key)
	a3 := startAgent(t, "-node", "a3", "-bootstrap-expect", "3", "-join", seed, key)
	for i, a := range []*testAPI{a1, a2, a3} {
		waitForLong(t, fmt.Sprintf("agent %d healthy", i+1), func() error {
			if st, _, out := a.do("GET", "/v1/health", ""); st != http.StatusOK {
				return fmt.Errorf("%d %v", st, out)
			}
			return nil
		})
	}
	pid := a2.spawn("1m")
	reg := a2.expect("PUT", "/v1/names/svc", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	waitForLong(t, "the name on a3's replica", func() error {
		if st, _, _ := a3.do("GET", "/v1/names/svc", ""); st != http.StatusOK {
			return fmt.Errorf("status %d", st)
		}
		return nil
	})
	out := a3.expect("POST", "/v1/names/svc/messages", `{"from":"a3"}`, http.StatusAccepted, "")
	if out["pid"] != pid || out["fence"] != reg["fence"] {
		t.Fatalf("send answer %v", out)
	}
	a1.expect("POST", "/v1/processes/"+pid+"/messages", `"direct"`, http.StatusAccepted, "")
	a1.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusMisdirectedRequest, "remote_pid")
	var got []any
	waitForLong(t, "both messages at a2", func() error {
		out := a2.expect("GET", "/v1/processes/"+pid+"/messages?wait=1s", "", http.StatusOK, "")
		got = append(got, out["messages"].([]any)...)
		if len(got) < 2 {
			return fmt.Errorf("got %v", got)
		}
		return nil
	})
	bodies := map[string]bool{}
	for _, m := range got {
		b, _ := json.Marshal(m.(map[string]any)["body"])
		bodies[string(b)] = true
	}
	if !bodies[`{"from":"a3"}`] || !bodies[`"direct"`] {
		t.Fatalf("remote JSON bodies arrived as %v", bodies)
	}
	st = a3.expect("GET", "/v1/status", "", http.StatusOK, "")
	if v := st["voters"].([]any); len(v) != 3 || len(st["members"].([]any)) != 3 {
		t.Fatalf("status on a3: %v", st)
	}
	table, err := a3.cli("members")
	if err != nil || strings.Count(table, "alive") != 3 || strings.Count(table, "voter") != 3 || !strings.Contains(table, "leader") {
		t.Fatalf("clusternode members: %v\n%s", err, table)
	}
}

// waitForLong is waitFor with a deadline fit for cluster formation.
func waitForLong(t *testing.T, what string, cond func() error) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}
