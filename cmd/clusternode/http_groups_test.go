package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClusterGroupsHTTP drives the cluster-wide groups through the API of
// a real agent: join with meta and multiplicity, members, listing with
// pagination, publish, call, leave, the SSE watch, the CLI, metrics, and
// bad input.
func TestClusterGroupsHTTP(t *testing.T) {
	a := startAgent(t, "-node", "g1", "-bootstrap-expect", "1")
	waitFor(t, "a leader", func() error {
		if st, _, out := a.do("GET", "/v1/health", ""); st != http.StatusOK {
			return fmt.Errorf("health %d %v", st, out)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := a.watchGroups(ctx, "chat.")

	pid := a.spawn("")
	out := a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":"`+pid+`","meta":{"nick":"ann"}}`, http.StatusOK, "")
	if out["count"] != float64(1) || out["node"] != "g1" {
		t.Fatalf("join %v", out)
	}
	out = a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":"`+pid+`","meta":{"nick":"ann"}}`, http.StatusOK, "")
	if out["count"] != float64(2) {
		t.Fatalf("second join %v", out)
	}
	a.expect("PUT", "/v1/groups/chat.lobby/members", `{"pid":"`+pid+`"}`, http.StatusOK, "")
	if ev := nextSSE(t, events); !strings.Contains(ev, "event: join") || !strings.Contains(ev, `"nick":"ann"`) {
		t.Fatalf("watch: %q", ev)
	}
	out = a.expect("GET", "/v1/groups/chat.room", "", http.StatusOK, "")
	ms := out["members"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["pid"] != pid || ms[0].(map[string]any)["count"] != float64(2) {
		t.Fatalf("members %v", out)
	}
	out = a.expect("GET", "/v1/groups?prefix=chat.&limit=1", "", http.StatusOK, "")
	if gs := out["groups"].([]any); len(gs) != 1 || out["next"] != "chat.lobby" {
		t.Fatalf("page 1 %v", out)
	}
	out = a.expect("GET", "/v1/groups?prefix=chat.&after=chat.lobby", "", http.StatusOK, "")
	if gs := out["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["name"] != "chat.room" || out["next"] != nil {
		t.Fatalf("page 2 %v", out)
	}
	a.expect("GET", "/v1/groups?limit=0", "", http.StatusBadRequest, "bad_limit")
	a.expect("GET", "/v1/groups?limit=10001", "", http.StatusBadRequest, "bad_limit")

	out = a.expect("POST", "/v1/groups/chat.room/messages", `{"text":"hi"}`, http.StatusOK, "")
	if out["sent"] != float64(1) {
		t.Fatalf("publish %v", out)
	}
	got := a.expect("GET", "/v1/processes/"+pid+"/messages?wait=5s", "", http.StatusOK, "")
	if msgs := got["messages"].([]any); len(msgs) != 1 || !strings.Contains(fmt.Sprint(msgs[0]), "hi") {
		t.Fatalf("received %v", got)
	}
	// An HTTP process cannot answer a GroupCall: its reply is the timeout.
	out = a.expect("POST", "/v1/groups/chat.room/call?timeout=200ms", `"ping"`, http.StatusOK, "")
	if rs := out["replies"].([]any); len(rs) != 1 || rs[0].(map[string]any)["error"] == nil {
		t.Fatalf("call %v", out)
	}
	a.expect("POST", "/v1/groups/chat.room/call?timeout=2h", `"ping"`, http.StatusBadRequest, "bad_duration")

	// Bad input.
	a.expect("PUT", "/v1/groups/"+strings.Repeat("x", 256)+"/members", `{"pid":"`+pid+`"}`, http.StatusBadRequest, "invalid_group")
	a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":"elsewhere.1.1"}`, http.StatusBadRequest, "remote_pid")
	a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":"nonsense"}`, http.StatusBadRequest, "bad_pid")
	a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":"`+pid+`","meta":"`+strings.Repeat("m", 1100)+`"}`, http.StatusBadRequest, "meta_too_large")
	a.expect("PUT", "/v1/groups/chat.room/members", `{"pid":`, http.StatusBadRequest, "bad_json")
	dead := a.spawn("")
	a.expect("DELETE", "/v1/processes/"+dead, "", http.StatusNoContent, "")
	waitFor(t, "the process to go", func() error {
		if st, _, out := a.do("PUT", "/v1/groups/chat.room/members", `{"pid":"`+dead+`"}`); st != http.StatusNotFound {
			return fmt.Errorf("join of a dead pid: %d %v", st, out)
		}
		return nil
	})

	cliOut, err := a.cli("groups", "-prefix", "chat.")
	if err != nil || !strings.HasPrefix(cliOut, "GROUP") || !strings.Contains(cliOut, "chat.lobby") || !strings.Contains(cliOut, "chat.room") {
		t.Fatalf("cli groups: %v\n%s", err, cliOut)
	}
	cliOut, err = a.cli("members", "chat.room")
	if err != nil || !strings.Contains(cliOut, pid) || !strings.Contains(cliOut, `{"nick":"ann"}`) {
		t.Fatalf("cli members GROUP: %v\n%s", err, cliOut)
	}
	checkMetrics(t, a, "roster_groups 2\n", `roster_group_members{where="local"} 2`, `roster_group_members{where="remote"} 0`,
		"# TYPE roster_group_sync_bytes_total counter\n", `roster_group_convergence_seconds{stat="max"}`)

	a.expect("DELETE", "/v1/groups/chat.room/members?pid="+pid, "", http.StatusNoContent, "")
	a.expect("DELETE", "/v1/groups/chat.room/members", `{"pid":"`+pid+`"}`, http.StatusNoContent, "")
	a.expect("DELETE", "/v1/groups/chat.room/members?pid="+pid, "", http.StatusNotFound, "not_found")
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNoContent, "")
	for {
		ev := nextSSE(t, events)
		if strings.Contains(ev, `"group":"chat.lobby"`) && strings.Contains(ev, "event: leave") {
			if !strings.Contains(ev, `"reason":"process_exit"`) {
				t.Fatalf("exit leave event %q", ev)
			}
			break
		}
	}
	out = a.expect("GET", "/v1/groups?prefix=chat.", "", http.StatusOK, "")
	if gs := out["groups"].([]any); len(gs) != 0 {
		t.Fatalf("groups left %v", out)
	}
}

// watchGroups opens GET /v1/groups/watch and returns its events (each an
// "event: ...\ndata: ..." block).
func (a *testAPI) watchGroups(ctx context.Context, prefix string) <-chan string {
	a.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.base+"/v1/groups/watch?prefix="+prefix, nil)
	resp, err := a.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		a.t.Fatalf("watch: %v %v", err, resp)
	}
	ch := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var block []string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if len(block) > 0 && !strings.HasPrefix(block[0], ":") {
					ch <- strings.Join(block, "\n")
				}
				block = nil
				continue
			}
			block = append(block, line)
		}
		close(ch)
	}()
	return ch
}

func nextSSE(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return ""
}
