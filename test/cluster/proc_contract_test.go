package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// procContractWait bounds every wait for replication or delivery in the
// contract tests (a few Raft round trips on loaded cores).
const procContractWait = 10 * time.Second

// TestProcHTTPContract exercises every row of the daemon's HTTP API table
// (README.md, "HTTP API") on one real 3-agent cluster, across nodes where
// the row is about the cluster, and ends with kill -9 of a name's owner.
func TestProcHTTPContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	start := time.Now()
	t.Run("health_status", func(t *testing.T) { contractHealthStatus(t, c) })
	t.Run("processes", func(t *testing.T) { contractProcesses(t, c) })
	t.Run("ttl_expiry", func(t *testing.T) { contractTTLExpiry(t, c) })
	t.Run("messages", func(t *testing.T) { contractMessages(t, c) })
	t.Run("global_names", func(t *testing.T) { contractGlobalNames(t, c) })
	t.Run("global_list_send", func(t *testing.T) { contractGlobalListSend(t, c) })
	t.Run("local_names", func(t *testing.T) { contractLocalNames(t, c) })
	t.Run("local_groups", func(t *testing.T) { contractLocalGroups(t, c) })
	t.Run("watch", func(t *testing.T) { contractWatch(t, c) })
	t.Run("metrics", func(t *testing.T) { contractMetrics(t, c) })
	t.Run("bad_input", func(t *testing.T) { contractBadInput(t, c) })
	t.Run("kill_owner", func(t *testing.T) { contractKillOwner(t, c) })
	t.Logf("contract rows took %v after the cluster formed", time.Since(start).Round(time.Millisecond))
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// spawnOn spawns a process with a long TTL on node i.
func spawnOn(t *testing.T, c *procCluster, i int) string {
	t.Helper()
	pid, err := c.API(i).spawn(context.Background(), 10*time.Minute)
	must(t, err)
	return pid
}

// contractHealthStatus: every node is healthy and agrees on the leader,
// the voters and the alive members; its own raft figures are sane.
func contractHealthStatus(t *testing.T, c *procCluster) {
	ctx := context.Background()
	leaders := map[string]int{}
	for i := range c.Size() {
		must(t, c.API(i).healthy(ctx))
		st, err := c.API(i).status(ctx)
		must(t, err)
		if st["node"] != c.Name(i) {
			t.Errorf("node %d: status node %v, want %s", i, st["node"], c.Name(i))
		}
		if inc, ok := st["incarnation"].(string); !ok || strings.Trim(inc, "0123456789") != "" || inc == "" {
			t.Errorf("%s: incarnation %#v, want a decimal string", c.Name(i), st["incarnation"])
		}
		leader, _ := st["leader"].(string)
		leaders[leader]++
		raft, _ := st["raft"].(map[string]any)
		state := raft["state"]
		if (state == "Leader") != (leader == c.Name(i)) || (state != "Leader" && state != "Follower") {
			t.Errorf("%s: raft state %v with leader %q", c.Name(i), state, leader)
		}
		for _, f := range []string{"term", "last_index", "applied_index"} {
			if v, _ := raft[f].(float64); v < 1 {
				t.Errorf("%s: raft.%s = %v, want >= 1", c.Name(i), f, raft[f])
			}
		}
		if voters, _ := st["voters"].([]any); len(voters) != 3 {
			t.Errorf("%s: voters %v, want 3", c.Name(i), st["voters"])
		}
		alive := 0
		members, _ := st["members"].([]any)
		for _, m := range members {
			if mm, _ := m.(map[string]any); mm["state"] == "alive" {
				alive++
			}
		}
		if alive != 3 {
			t.Errorf("%s: %d alive members, want 3: %v", c.Name(i), alive, members)
		}
	}
	if len(leaders) != 1 || leaders[""] != 0 {
		t.Errorf("leaders named by the nodes: %v, want one agreed", leaders)
	}
}

// contractProcesses: spawn, renew, delete; a deleted process's global and
// local names go with it.
func contractProcesses(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(0)
	a, err := api.expect(ctx, "POST", "/v1/processes", `{"ttl":"45s"}`, http.StatusCreated)
	must(t, err)
	pid := a.str("pid")
	if !strings.HasPrefix(pid, c.Name(0)+".") || a.str("ttl") != "45s" {
		t.Errorf("spawn answered %v, want a pid of %s and ttl 45s", a.Body, c.Name(0))
	}
	pp := "/v1/processes/" + url.PathEscape(pid)
	a, err = api.expect(ctx, "PUT", pp+"/renew", `{"ttl":"1m"}`, http.StatusOK)
	must(t, err)
	if a.str("ttl") != "1m0s" {
		t.Errorf("renew answered %v, want ttl 1m0s", a.Body)
	}
	a, err = c.API(1).do(ctx, "PUT", pp+"/renew", `{"ttl":"1m"}`, 0)
	must(t, err)
	must(t, procWantError(a, http.StatusMisdirectedRequest, "remote_pid"))
	if a.str("node") != c.Name(0) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(0))
	}
	_, fence, err := procRegisterPID(ctx, api, "proc.del", pid)
	must(t, err)
	must(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "proc.del", pid, fence, procContractWait))
	_, err = api.expect(ctx, "PUT", "/v1/local/names/proc.del", fmt.Sprintf(`{"pid":%q}`, pid), http.StatusCreated)
	must(t, err)

	_, err = api.expect(ctx, "DELETE", pp, "", http.StatusNoContent)
	must(t, err)
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "proc.del", time.Now(), procContractWait)
	must(t, err)
	must(t, WaitFor(procContractWait, func() error {
		a, err := api.do(ctx, "GET", "/v1/local/names/proc.del", "", 0)
		if err != nil {
			return err
		}
		return procWantError(a, http.StatusNotFound, "not_found")
	}))
	a, err = api.do(ctx, "DELETE", pp, "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "noproc"))
	a, err = api.do(ctx, "PUT", pp+"/renew", `{}`, 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "noproc"))
}

// procRegisterPID registers name for an existing pid on api.
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

// contractTTLExpiry: a process neither renewed nor polled exits after its
// TTL, and its global name goes from every replica.
func contractTTLExpiry(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(1)
	pid, err := api.spawn(ctx, 500*time.Millisecond)
	must(t, err)
	spawned := time.Now()
	_, _, err = procRegisterPID(ctx, api, "ttl.short", pid)
	must(t, err)
	d, err := procWaitGone(ctx, c.apis([]int{0, 1, 2}), "ttl.short", spawned, procContractWait)
	must(t, err)
	a, err := api.do(ctx, "POST", "/v1/processes/"+url.PathEscape(pid)+"/messages", `"late"`, 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "noproc"))
	if d < 500*time.Millisecond {
		t.Errorf("name gone %v after spawn, before the 500ms TTL ran out", d)
	}
	t.Logf("ttl 500ms: process and name gone from every replica %v after spawn", d.Round(time.Millisecond))
}

// contractMessages: send to a pid on another node, receive it on its own
// node with the same JSON; max is honoured; polling a remote pid is 421.
func contractMessages(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := spawnOn(t, c, 2)
	path := "/v1/processes/" + url.PathEscape(pid) + "/messages"
	body := `{"order":7,"items":["a","b"],"nested":{"ok":true,"n":null}}`
	a, err := c.API(0).expect(ctx, "POST", path, body, http.StatusAccepted)
	must(t, err)
	if a.str("pid") != pid {
		t.Errorf("send answered %v, want pid %s", a.Body, pid)
	}
	got, err := procMessages(ctx, c.API(2), pid, 3*time.Second, 0)
	must(t, err)
	if len(got) != 1 || !procJSONEqual(got[0], []byte(body)) {
		t.Fatalf("received %s, want exactly %s", got, body)
	}
	for k := range 3 {
		_, err := c.API(2).expect(ctx, "POST", path, fmt.Sprint(k), http.StatusAccepted)
		must(t, err)
	}
	first, err := procMessages(ctx, c.API(2), pid, time.Second, 2)
	must(t, err)
	rest, err := procMessages(ctx, c.API(2), pid, time.Second, 2)
	must(t, err)
	if len(first) != 2 || string(first[0]) != "0" || string(first[1]) != "1" || len(rest) != 1 || string(rest[0]) != "2" {
		t.Errorf("max=2 polls gave %s then %s, want [0 1] then [2]", first, rest)
	}
	a, err = c.API(1).do(ctx, "GET", path+"?wait=1s", "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusMisdirectedRequest, "remote_pid"))
	if a.str("node") != c.Name(2) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(2))
	}
}

// contractGlobalNames: register (201 with fence), taken from another node
// (409 with owner), lookup on every node (stale and consistent), and
// unregister (409 not owner, 404 unknown, 204 by the owner).
func contractGlobalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := spawnOn(t, c, 0)
	a, err := c.API(0).expect(ctx, "PUT", "/v1/names/svc.db", fmt.Sprintf(`{"pid":%q,"meta":{"v":2}}`, pid), http.StatusCreated)
	must(t, err)
	fence, _ := a.Body["fence"].(float64)
	if a.str("name") != "svc.db" || a.str("pid") != pid || a.str("node") != c.Name(0) || fence <= 0 {
		t.Errorf("register answered %v", a.Body)
	}
	if m, _ := a.Body["meta"].(map[string]any); m["v"] != 2.0 {
		t.Errorf("register meta %v, want {v:2}", a.Body["meta"])
	}
	other := spawnOn(t, c, 1)
	a, err = c.API(1).register(ctx, "svc.db", other)
	must(t, err)
	must(t, procWantError(a, http.StatusConflict, "name_taken"))
	if owner, _ := a.Body["owner"].(map[string]any); owner["pid"] != pid || owner["fence"] != fence {
		t.Errorf("409 owner %v, want pid %s fence %v", a.Body["owner"], pid, fence)
	}
	must(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "svc.db", pid, fence, procContractWait))
	for i := range c.Size() {
		a, err := c.API(i).expect(ctx, "GET", "/v1/names/svc.db?consistent=1", "", http.StatusOK)
		must(t, err)
		if a.str("pid") != pid || a.Body["fence"] != fence {
			t.Errorf("%s consistent lookup %v", c.Name(i), a.Body)
		}
	}
	a, err = c.API(2).do(ctx, "GET", "/v1/names/svc.nothing?consistent=1", "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))

	a, err = c.API(0).do(ctx, "DELETE", "/v1/names/svc.db?pid="+url.QueryEscape(other), "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusConflict, "not_owner"))
	a, err = c.API(0).do(ctx, "DELETE", "/v1/names/svc.nothing?pid="+url.QueryEscape(pid), "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))
	_, err = c.API(0).expect(ctx, "DELETE", "/v1/names/svc.db?pid="+url.QueryEscape(pid), "", http.StatusNoContent)
	must(t, err)
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "svc.db", time.Now(), procContractWait)
	must(t, err)
}

// contractGlobalListSend: a prefix list is sorted and holds only the
// prefix; a send by name from another node reaches the owner, fenced to
// its registration; an unknown name is 404.
func contractGlobalListSend(t *testing.T, c *procCluster) {
	ctx := context.Background()
	owner := spawnOn(t, c, 1)
	var fences = map[string]float64{}
	for _, n := range []string{"ls.b", "lt.x", "ls.a", "ls.c", "l"} {
		_, f, err := procRegisterPID(ctx, c.API(1), n, owner)
		must(t, err)
		fences[n] = f
	}
	must(t, WaitFor(procContractWait, func() error {
		a, err := c.API(2).expect(ctx, "GET", "/v1/names?prefix=ls.", "", http.StatusOK)
		if err != nil {
			return err
		}
		var got []string
		list, _ := a.Body["names"].([]any)
		for _, n := range list {
			got = append(got, fmt.Sprint(n.(map[string]any)["name"]))
		}
		if want := []string{"ls.a", "ls.b", "ls.c"}; !slices.Equal(got, want) {
			return fmt.Errorf("prefix ls. lists %v, want %v", got, want)
		}
		return nil
	}))
	a, err := c.API(0).expect(ctx, "GET", "/v1/names?prefix=ls.&consistent=1", "", http.StatusOK)
	must(t, err)
	if list, _ := a.Body["names"].([]any); len(list) != 3 {
		t.Errorf("consistent prefix list %v, want 3 names", a.Body)
	}
	a, err = c.API(0).expect(ctx, "POST", "/v1/names/ls.b/messages", `{"hello":"by name"}`, http.StatusAccepted)
	must(t, err)
	if a.str("pid") != owner || a.Body["fence"] != fences["ls.b"] {
		t.Errorf("send by name answered %v, want pid %s fence %v", a.Body, owner, fences["ls.b"])
	}
	got, err := procMessages(ctx, c.API(1), owner, 3*time.Second, 0)
	must(t, err)
	if len(got) != 1 || !procJSONEqual(got[0], []byte(`{"hello":"by name"}`)) {
		t.Errorf("owner received %s, want the message sent by name", got)
	}
	a, err = c.API(2).do(ctx, "POST", "/v1/names/ls.nothing/messages", `1`, 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))
}

// contractLocalNames: a node's unique registry over HTTP.
func contractLocalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(2)
	p1, p2 := spawnOn(t, c, 2), spawnOn(t, c, 2)
	_, err := api.expect(ctx, "PUT", "/v1/local/names/worker", fmt.Sprintf(`{"pid":%q}`, p1), http.StatusCreated)
	must(t, err)
	a, err := api.expect(ctx, "GET", "/v1/local/names/worker", "", http.StatusOK)
	must(t, err)
	if a.str("key") != "worker" || a.str("pid") != p1 {
		t.Errorf("local lookup %v, want worker -> %s", a.Body, p1)
	}
	a, err = api.do(ctx, "PUT", "/v1/local/names/worker", fmt.Sprintf(`{"pid":%q}`, p2), 0)
	must(t, err)
	must(t, procWantError(a, http.StatusConflict, "name_taken"))
	if owner, _ := a.Body["owner"].(map[string]any); owner["pid"] != p1 {
		t.Errorf("409 owner %v, want %s", a.Body["owner"], p1)
	}
	a, err = c.API(0).do(ctx, "GET", "/v1/local/names/worker", "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found")) // node-scoped
	a, err = api.do(ctx, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p2), "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusConflict, "not_owner"))
	_, err = api.expect(ctx, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p1), "", http.StatusNoContent)
	must(t, err)
	a, err = api.do(ctx, "GET", "/v1/local/names/worker", "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))
	a, err = api.do(ctx, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p1), "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))
}

// contractLocalGroups: two members join, a broadcast reaches both, one
// leaves.
func contractLocalGroups(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(0)
	p1, p2 := spawnOn(t, c, 0), spawnOn(t, c, 0)
	for _, p := range []string{p1, p2} {
		_, err := api.expect(ctx, "PUT", "/v1/local/groups/pool", fmt.Sprintf(`{"pid":%q}`, p), http.StatusCreated)
		must(t, err)
	}
	members := func() []string {
		a, err := api.expect(ctx, "GET", "/v1/local/groups/pool", "", http.StatusOK)
		must(t, err)
		var out []string
		ms, _ := a.Body["members"].([]any)
		for _, m := range ms {
			out = append(out, fmt.Sprint(m))
		}
		slices.Sort(out)
		return out
	}
	if got, want := members(), slices.Sorted(slices.Values([]string{p1, p2})); !slices.Equal(got, want) {
		t.Errorf("group members %v, want %v", got, want)
	}
	a, err := api.expect(ctx, "POST", "/v1/local/groups/pool/messages", `{"job":1}`, http.StatusAccepted)
	must(t, err)
	if a.Body["sent"] != 2.0 {
		t.Errorf("broadcast answered %v, want sent 2", a.Body)
	}
	for _, p := range []string{p1, p2} {
		got, err := procMessages(ctx, api, p, 3*time.Second, 0)
		must(t, err)
		if len(got) != 1 || !procJSONEqual(got[0], []byte(`{"job":1}`)) {
			t.Errorf("member %s received %s, want the broadcast", p, got)
		}
	}
	_, err = api.expect(ctx, "DELETE", "/v1/local/groups/pool?pid="+url.QueryEscape(p1), "", http.StatusNoContent)
	must(t, err)
	if got := members(); !slices.Equal(got, []string{p2}) {
		t.Errorf("after leave members %v, want [%s]", got, p2)
	}
	a, err = api.do(ctx, "DELETE", "/v1/local/groups/pool?pid="+url.QueryEscape(p1), "", 0)
	must(t, err)
	must(t, procWantError(a, http.StatusNotFound, "not_found"))
}

// contractWatch: register and unregister produce events with reason and
// index, names outside the prefix none; resuming with ?index= or
// Last-Event-ID replays exactly the later events; the stream ends when the
// client goes.
func contractWatch(t *testing.T, c *procCluster) {
	ctx := context.Background()
	w, err := procStartWatch(ctx, c.API(1), "prefix=w.", nil)
	must(t, err)
	pid := spawnOn(t, c, 0)
	_, fence, err := procRegisterPID(ctx, c.API(0), "w.a", pid)
	must(t, err)
	_, _, err = procRegisterPID(ctx, c.API(0), "x.other", pid)
	must(t, err)
	_, err = c.API(0).expect(ctx, "DELETE", "/v1/names/w.a?pid="+url.QueryEscape(pid), "", http.StatusNoContent)
	must(t, err)
	reg := wantEvent(t, w, "registered", "w.a", "register")
	unreg := wantEvent(t, w, "unregistered", "w.a", "unregister")
	if reg.Data["pid"] != pid || reg.Data["fence"] != fence || reg.Data["node"] != c.Name(0) {
		t.Errorf("registered event %v, want pid %s fence %v node %s", reg.Data, pid, fence, c.Name(0))
	}
	if unreg.Data["index"].(float64) <= reg.Data["index"].(float64) {
		t.Errorf("unregistered index %v not after registered %v", unreg.Data["index"], reg.Data["index"])
	}
	regIndex := fmt.Sprint(int64(reg.Data["index"].(float64)))
	resumes := []struct {
		node  int
		query string
		hdr   http.Header
	}{
		{2, "prefix=w.&index=" + url.QueryEscape(reg.ID), nil},
		{0, "prefix=w.&index=" + regIndex, nil},
		{1, "prefix=w.", http.Header{"Last-Event-ID": {reg.ID}}},
	}
	for _, r := range resumes {
		rw, err := procStartWatch(ctx, c.API(r.node), r.query, r.hdr)
		must(t, err)
		ev, err := rw.next(procContractWait)
		must(t, err)
		if ev.ID != unreg.ID || ev.Event != "unregistered" || ev.Data["name"] != "w.a" {
			t.Errorf("resume %s %v on %s replayed %+v first, want %+v", r.query, r.hdr, c.Name(r.node), ev, unreg)
		}
		if err := rw.quiet(300 * time.Millisecond); err != nil {
			t.Errorf("resume %s %v: %v", r.query, r.hdr, err)
		}
		must(t, rw.close(5*time.Second))
	}
	must(t, w.close(5*time.Second))
}

// wantEvent reads the next event of w and checks its type, name, reason
// and that its id is "<index>.<n>".
func wantEvent(t *testing.T, w *procWatch, typ, name, reason string) procEvent {
	t.Helper()
	ev, err := w.next(procContractWait)
	must(t, err)
	idx, _ := ev.Data["index"].(float64)
	if ev.Event != typ || ev.Data["type"] != typ || ev.Data["name"] != name || ev.Data["reason"] != reason ||
		!strings.HasPrefix(ev.ID, fmt.Sprintf("%d.", int64(idx))) || idx < 1 {
		t.Fatalf("event %+v, want %s %s reason %s with id <index>.<n>", ev, typ, name, reason)
	}
	return ev
}

// contractMetrics: every node serves Prometheus text with the raft,
// memberlist and roster families and the purge latency histogram.
func contractMetrics(t *testing.T, c *procCluster) {
	ctx := context.Background()
	want := []string{
		"\nraft_", "\nmemberlist_", "\nroster_node_healthy 1", "\nroster_members{state=\"alive\"} 3",
		"\n# TYPE roster_purge_latency_seconds histogram", "\nroster_purge_latency_seconds_bucket{le=\"0.25\"}",
		"\nroster_purge_latency_seconds_bucket{le=\"+Inf\"}", "\nroster_purge_latency_seconds_count",
	}
	for i := range c.Size() {
		must(t, WaitFor(procContractWait, func() error {
			a, err := c.API(i).raw(ctx, "GET", "/metrics", nil, nil)
			if err != nil {
				return err
			}
			if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/plain") {
				return fmt.Errorf("%s /metrics: status %d, Content-Type %q", c.Name(i), a.Status, a.Header.Get("Content-Type"))
			}
			for _, w := range want {
				if !strings.Contains("\n"+string(a.Body), w) {
					return fmt.Errorf("%s /metrics lacks %q", c.Name(i), strings.TrimPrefix(w, "\n"))
				}
			}
			return nil
		}))
	}
}

// contractBadInput: malformed or oversized bodies, bad pids, names and
// durations, and unsupported methods get the documented status and a JSON
// {"error","code"} body.
func contractBadInput(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := spawnOn(t, c, 0)
	huge := append(append([]byte(`{"pid":"`), strings.Repeat("x", 1<<20)...), `"}`...)
	long := strings.Repeat("n", 256)
	cases := []struct {
		method, path string
		body         []byte
		status       int
		code         string
	}{
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
	for _, k := range cases {
		a, err := c.API(1).raw(ctx, k.method, k.path, k.body, nil)
		must(t, err)
		if err := procWantRawError(a, k.status, k.code); err != nil {
			t.Errorf("%s %.60s: %v", k.method, k.path, err)
		}
	}
	allows := map[string]string{
		"DELETE /v1/health":            "GET, HEAD",
		"POST /v1/names/x":             "DELETE, GET, HEAD, PUT",
		"GET /v1/processes":            "POST",
		"PATCH /v1/local/groups/g":     "DELETE, GET, HEAD, PUT",
		"PUT /v1/processes/p/messages": "GET, HEAD, POST",
	}
	for req, allow := range allows {
		method, path, _ := strings.Cut(req, " ")
		a, err := c.API(2).raw(ctx, method, path, nil, nil)
		must(t, err)
		if err := procWantRawError(a, http.StatusMethodNotAllowed, "method_not_allowed"); err != nil {
			t.Errorf("%s: %v", req, err)
		}
		if got := a.Header.Get("Allow"); got != allow {
			t.Errorf("%s: Allow %q, want %q", req, got, allow)
		}
	}
}

// contractKillOwner: kill -9 of the agent owning a name makes the name
// disappear from the two survivors within procPurgeBound.
func contractKillOwner(t *testing.T, c *procCluster) {
	ctx := context.Background()
	leader := c.Leader(ctx)
	if leader < 0 {
		t.Fatal("no agreed leader")
	}
	owner := (leader + 1) % c.Size() // a follower: the survivors keep their leader
	pid, fence, err := procRegister(ctx, c.API(owner), "kill.owned")
	must(t, err)
	survivors := c.apis(c.others(owner))
	must(t, procWaitName(ctx, survivors, "kill.owned", pid, fence, procContractWait))
	start := time.Now()
	must(t, c.Kill(owner))
	d, err := procWaitGone(ctx, survivors, "kill.owned", start, procPurgeBound)
	if err != nil {
		t.Fatalf("kill -9 %s: name still held: %v", c.Name(owner), err)
	}
	t.Logf("kill -9 %s (follower): kill.owned gone from both survivors after %v (bound %v)",
		c.Name(owner), d.Round(time.Millisecond), procPurgeBound)
}

// TestProcCLI runs the built binary's client commands against a live
// agent of a 3-agent cluster (a follower, so reads go through a replica)
// and against an address where nothing listens.
func TestProcCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	leader := c.Leader(ctx)
	if leader < 0 {
		t.Fatal("no agreed leader")
	}
	at := (leader + 1) % c.Size()
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		out, code, err := procRunCLI(ctx, c.bin, args...)
		must(t, err)
		if code != wantCode {
			t.Fatalf("clusternode %s: exit %d, want %d: %s", strings.Join(args, " "), code, wantCode, out)
		}
		return out
	}
	addr := strings.TrimPrefix(c.API(at).base, "http://")
	t.Run("status_members", func(t *testing.T) { cliStatusMembers(t, c, at, cli, addr) })
	t.Run("names_whereis_send", func(t *testing.T) { cliNamesWhereisSend(t, c, at, cli, addr) })
	t.Run("health", func(t *testing.T) {
		if out := cli(0, "health", "-http-addr", addr); strings.TrimSpace(out) != "healthy" {
			t.Errorf("health printed %q", out)
		}
		var h map[string]any
		must(t, json.Unmarshal([]byte(cli(0, "health", "-json", "-http-addr", addr)), &h))
		if h["healthy"] != true || h["node"] != c.Name(at) {
			t.Errorf("health -json %v", h)
		}
		dead, err := procDeadAddr()
		must(t, err)
		if _, code, err := procRunCLI(ctx, c.bin, "health", "-http-addr", dead, "-timeout", "2s"); err != nil || code == 0 {
			t.Errorf("health against %s (nothing listens): exit %d, %v; want non-zero", dead, code, err)
		}
	})
	t.Run("version_keygen", func(t *testing.T) {
		if out := cli(0, "version"); !strings.HasPrefix(out, "clusternode ") || len(strings.TrimSpace(out)) <= len("clusternode ") {
			t.Errorf("version printed %q", out)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cli(0, "keygen")))
		if err != nil || len(key) != 32 {
			t.Errorf("keygen: %d bytes, %v; want 32 base64 bytes", len(key), err)
		}
	})
}

// procCLIRunner runs the binary with args and wants an exit code.
type procCLIRunner func(wantCode int, args ...string) string

// cliStatusMembers: status and members, as tables and as JSON.
func cliStatusMembers(t *testing.T, c *procCluster, at int, cli procCLIRunner, addr string) {
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
	must(t, json.Unmarshal([]byte(cli(0, "status", "-json", "-http-addr", addr)), &st))
	if st.Node != c.Name(at) || st.Leader != leader || len(st.Voters) != 3 || st.Raft.State != "Follower" {
		t.Errorf("status -json %+v", st)
	}
	out = cli(0, "members", "-http-addr", addr)
	if !strings.HasPrefix(out, "NODE") || strings.Count(out, "alive") != 3 {
		t.Errorf("members table, want a header and 3 alive rows:\n%s", out)
	}
	var members []struct{ Node, State string }
	must(t, json.Unmarshal([]byte(cli(0, "members", "-json", "-http-addr", addr)), &members))
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

// cliNamesWhereisSend: names -prefix, whereis [-consistent] and send by
// name, with the message checked at the owner.
func cliNamesWhereisSend(t *testing.T, c *procCluster, at int, cli procCLIRunner, addr string) {
	ctx := context.Background()
	owner := (at + 1) % c.Size()
	pid := spawnOn(t, c, owner)
	fences := map[string]float64{}
	for _, n := range []string{"cli.b", "cli.a", "clj.x"} {
		_, f, err := procRegisterPID(ctx, c.API(owner), n, pid)
		must(t, err)
		fences[n] = f
	}
	must(t, procWaitName(ctx, []*procAPI{c.API(at)}, "cli.b", pid, fences["cli.b"], procContractWait))
	must(t, procWaitName(ctx, []*procAPI{c.API(at)}, "clj.x", pid, fences["clj.x"], procContractWait))
	out := cli(0, "names", "-prefix", "cli.", "-http-addr", addr)
	if !strings.HasPrefix(out, "NAME") || strings.Contains(out, "clj.x") ||
		!strings.Contains(out, "cli.a") || strings.Index(out, "cli.a") > strings.Index(out, "cli.b") {
		t.Errorf("names -prefix cli. table, want cli.a then cli.b only:\n%s", out)
	}
	var list []struct{ Name, PID string }
	must(t, json.Unmarshal([]byte(cli(0, "names", "-prefix", "cli.", "-json", "-http-addr", addr)), &list))
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
	must(t, json.Unmarshal([]byte(cli(0, "whereis", "cli.a", "-consistent", "-json", "-http-addr", addr)), &w))
	if w.PID != pid || w.Fence != fences["cli.a"] {
		t.Errorf("whereis -consistent -json %+v, want pid %s fence %v", w, pid, fences["cli.a"])
	}
	cli(1, "whereis", "cli.nothing", "-http-addr", addr)
	if out := cli(0, "send", "cli.b", `{"op":"ping"}`, "-http-addr", addr); !strings.Contains(out, "sent to "+pid) {
		t.Errorf("send printed %q, want sent to %s", out, pid)
	}
	cli(2, "send", "cli.b", `{not json`, "-http-addr", addr)
	got, err := procMessages(ctx, c.API(owner), pid, 3*time.Second, 0)
	must(t, err)
	if len(got) != 1 || !procJSONEqual(got[0], []byte(`{"op":"ping"}`)) {
		t.Errorf("owner received %s, want the sent message", got)
	}
}
