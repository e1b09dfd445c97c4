package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAgentEndToEnd runs one real server (a cluster.Node,
// bootstrap-expect 1) behind the HTTP API.
func TestAgentEndToEnd(t *testing.T) {
	mr := globalMetricsRegistry(t)
	a := startAgentWith(t, mr, "-node", "e2e", "-bootstrap-expect", "1")
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
	before := scrape(t, a.base)
	a.expect("POST", "/v1/names/e2e.svc/messages", `{"hello":"world"}`, http.StatusAccepted, "")
	out = a.expect("GET", "/v1/processes/"+pid+"/messages?wait=5s", "", http.StatusOK, "")
	checkCounterMoved(t, before, scrape(t, a.base), "roster_messages_in_total", 1)
	if msgs := out["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["body"].(map[string]any)["hello"] != "world" {
		t.Fatalf("messages %v", out)
	}
	checkWatchResume(t, a, uint64(reg["index"].(float64)))
	checkLocalNames(t, a, pid)
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNoContent, "")
	waitForGone(t, a, "e2e.svc")
	short := a.spawn("100ms")
	a.expect("PUT", "/v1/names/e2e.short", `{"pid":"`+short+`"}`, http.StatusCreated, "")
	waitForGone(t, a, "e2e.short") // the ttl expired
	out = a.expect("GET", "/v1/status", "", http.StatusOK, "")
	if out["leader"] != "e2e" || out["raft"].(map[string]any)["state"] != "Leader" {
		t.Fatalf("status %v", out)
	}
	checkMetrics(t, a, "# TYPE raft_apply counter\n", "memberlist_", "roster_processes ", "roster_global_names 1\n",
		"roster_leader_changes_total 1\n", "roster_raft_leader 1\n", `roster_members{state="alive"} 1`,
		"# TYPE roster_purge_latency_seconds histogram\n", `roster_purge_latency_seconds_bucket{le="0.25"} 0`,
		"roster_purge_latency_seconds_count 0\n", "global_write_register_count ", "go_goroutines ")
}

func waitForGone(t *testing.T, a *testAPI, name string) {
	t.Helper()
	waitFor(t, name+" to go with its process", func() error {
		if st, _, _ := a.do("GET", "/v1/names/"+name, ""); st != http.StatusNotFound {
			return fmt.Errorf("status %d", st)
		}
		return nil
	})
}

func checkLocalNames(t *testing.T, a *testAPI, pid string) {
	t.Helper()
	p2 := a.spawn("")
	a.expect("PUT", "/v1/local/names/loc", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	out := a.expect("PUT", "/v1/local/names/loc", `{"pid":"`+p2+`"}`, http.StatusConflict, "name_taken")
	if out["owner"].(map[string]any)["pid"] != pid {
		t.Fatalf("local 409 %v", out)
	}
	a.expect("DELETE", "/v1/local/names/loc?pid="+p2, "", http.StatusConflict, "not_owner")
	a.expect("PUT", "/v1/local/groups/g", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	a.expect("PUT", "/v1/local/groups/g", `{"pid":"`+p2+`"}`, http.StatusCreated, "")
	if out := a.expect("POST", "/v1/local/groups/g/messages", `[1,2]`, http.StatusAccepted, ""); out["sent"] != float64(2) {
		t.Fatalf("broadcast %v", out)
	}
	out = a.expect("GET", "/v1/processes/"+p2+"/messages?wait=5s", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("group message %v", out)
	}
}

func checkMetrics(t *testing.T, a *testAPI, wants ...string) {
	t.Helper()
	resp, err := a.client.Get(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range wants {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// checkWatchResume checks ?index= against the real table: index=I-1
// replays the registration at raft index I, index=I starts after it.
func checkWatchResume(t *testing.T, a *testAPI, index uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := a.openWatch(ctx, fmt.Sprintf("/v1/watch?prefix=e2e.&index=%d", index-1))
	if ev := next(t, events); ev.event != "registered" || ev.id != fmt.Sprintf("%d.0", index) || ev.data["name"] != "e2e.svc" {
		t.Fatalf("watch from %d: first event %+v", index-1, ev)
	}
	after, _ := a.openWatch(ctx, fmt.Sprintf("/v1/watch?prefix=e2e.&index=%d", index))
	p := a.spawn("")
	a.expect("PUT", "/v1/names/e2e.watch", `{"pid":"`+p+`"}`, http.StatusCreated, "")
	if ev := next(t, after); ev.data["name"] != "e2e.watch" {
		t.Fatalf("watch after %d replayed %+v", index, ev)
	}
}

func noEnv(string) string { return "" }
