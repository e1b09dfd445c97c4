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

// TestProcHTTPContract exercises every row of the daemon's HTTP API table
// (README.md, "HTTP API") on one real 3-agent cluster, across nodes where
// the row is about the cluster, and ends with kill -9 of a name's owner.
func TestProcHTTPContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	start := time.Now()
	t.Run("health_status", func(t *testing.T) { procContractHealthStatus(t, c) })
	t.Run("processes", func(t *testing.T) { procContractProcesses(t, c) })
	t.Run("ttl_expiry", func(t *testing.T) { procContractTTLExpiry(t, c) })
	t.Run("messages", func(t *testing.T) { procContractMessages(t, c) })
	t.Run("global_names", func(t *testing.T) { procContractGlobalNames(t, c) })
	t.Run("global_list_send", func(t *testing.T) { procContractGlobalListSend(t, c) })
	t.Run("local_names", func(t *testing.T) { procContractLocalNames(t, c) })
	t.Run("local_groups", func(t *testing.T) { procContractLocalGroups(t, c) })
	t.Run("watch", func(t *testing.T) { procContractWatch(t, c) })
	t.Run("watch_process_exit", func(t *testing.T) { procContractWatchExit(t, c) })
	t.Run("watch_client_gone", func(t *testing.T) { procContractWatchGone(t, c) })
	t.Run("metrics", func(t *testing.T) { procContractMetrics(t, c) })
	t.Run("bad_input", func(t *testing.T) { procContractBadInput(t, c) })
	t.Run("kill_owner", func(t *testing.T) { procContractKillOwner(t, c) })
	t.Logf("contract rows took %v after the cluster formed", time.Since(start).Round(time.Millisecond))
}

// procContractHealthStatus: every node is healthy and agrees on the leader,
// the voters and the alive members; its own raft figures are sane.
func procContractHealthStatus(t *testing.T, c *procCluster) {
	ctx := context.Background()
	leaders := map[string]int{}
	for i := range c.Size() {
		procMust(t, c.API(i).healthy(ctx))
		st, err := c.API(i).status(ctx)
		procMust(t, err)
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
		term, _ := raft["term"].(float64)
		last, _ := raft["last_index"].(float64)
		applied, ok := raft["applied_index"].(float64) // the FSM's: 0 before the first command
		if term < 1 || last < 1 || !ok || applied > last {
			t.Errorf("%s: raft term %v last_index %v applied_index %v", c.Name(i), raft["term"], raft["last_index"], raft["applied_index"])
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

// procContractProcesses: spawn, renew, delete; a deleted process's global and
// local names go with it.
func procContractProcesses(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(0)
	a, err := api.expect(ctx, "POST", "/v1/processes", `{"ttl":"45s"}`, http.StatusCreated)
	procMust(t, err)
	pid := a.str("pid")
	if !strings.HasPrefix(pid, c.Name(0)+".") || a.str("ttl") != "45s" {
		t.Errorf("spawn answered %v, want a pid of %s and ttl 45s", a.Body, c.Name(0))
	}
	if a, err := api.expect(ctx, "POST", "/v1/processes", "", http.StatusCreated); err != nil || a.str("ttl") != "30s" {
		t.Errorf("spawn without a body: %v %v, want the default ttl 30s", a.Body, err)
	}
	pp := "/v1/processes/" + url.PathEscape(pid)
	a, err = api.expect(ctx, "PUT", pp+"/renew", `{"ttl":"1m"}`, http.StatusOK)
	procMust(t, err)
	if a.str("ttl") != "1m0s" {
		t.Errorf("renew answered %v, want ttl 1m0s", a.Body)
	}
	a = procExpectError(t, c.API(1), "PUT", pp+"/renew", `{"ttl":"1m"}`, http.StatusMisdirectedRequest, "remote_pid")
	if a.str("node") != c.Name(0) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(0))
	}
	_, fence, err := procRegisterPID(ctx, api, "proc.del", pid)
	procMust(t, err)
	procMust(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "proc.del", pid, fence, procContractWait))
	_, err = api.expect(ctx, "PUT", "/v1/local/names/proc.del", fmt.Sprintf(`{"pid":%q}`, pid), http.StatusCreated)
	procMust(t, err)

	_, err = api.expect(ctx, "DELETE", pp, "", http.StatusNoContent)
	procMust(t, err)
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "proc.del", time.Now(), procContractWait)
	procMust(t, err)
	procMust(t, WaitFor(procContractWait, func() error {
		a, err := api.do(ctx, "GET", "/v1/local/names/proc.del", "", 0)
		if err != nil {
			return err
		}
		return procWantError(a, http.StatusNotFound, "not_found")
	}))
	procExpectError(t, api, "DELETE", pp, "", http.StatusNotFound, "noproc")
	procExpectError(t, api, "PUT", pp+"/renew", `{}`, http.StatusNotFound, "noproc")
}

// procContractTTLExpiry: a process neither renewed nor polled exits after
// its TTL, and its global name goes from every replica. The named one gets
// its 500ms TTL by a renew after the registration committed, so a slow
// commit cannot outlive it; a bare one is spawned with it.
func procContractTTLExpiry(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(1)
	bare, err := api.spawn(ctx, 500*time.Millisecond)
	procMust(t, err)
	pid := procSpawnOn(t, c, 1)
	_, _, err = procRegisterPID(ctx, api, "ttl.short", pid)
	procMust(t, err)
	renewed := time.Now() // before the new TTL starts
	a, err := api.expect(ctx, "PUT", "/v1/processes/"+url.PathEscape(pid)+"/renew", `{"ttl":"500ms"}`, http.StatusOK)
	procMust(t, err)
	if a.str("ttl") != "500ms" {
		t.Errorf("renew answered %v, want ttl 500ms", a.Body)
	}
	d, err := procWaitGone(ctx, c.apis([]int{0, 1, 2}), "ttl.short", renewed, procContractWait)
	procMust(t, err)
	if d < 500*time.Millisecond {
		t.Errorf("name gone %v after the renew, before the 500ms TTL ran out", d)
	}
	for _, p := range []string{pid, bare} {
		procMust(t, WaitFor(procContractWait, func() error {
			a, err := api.do(ctx, "POST", "/v1/processes/"+url.PathEscape(p)+"/messages", `"late"`, 0)
			if err != nil {
				return err
			}
			return procWantError(a, http.StatusNotFound, "noproc")
		}))
	}
	t.Logf("ttl 500ms: process and name gone from every replica %v after the renew", d.Round(time.Millisecond))
}

// procContractMessages: send to a pid on another node, receive it on its own
// node with the same JSON; max is honoured; polling a remote pid is 421.
func procContractMessages(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := procSpawnOn(t, c, 2)
	path := "/v1/processes/" + url.PathEscape(pid) + "/messages"
	body := `{"order":7,"items":["a","b"],"nested":{"ok":true,"n":null}}`
	a, err := c.API(0).expect(ctx, "POST", path, body, http.StatusAccepted)
	procMust(t, err)
	if a.str("pid") != pid {
		t.Errorf("send answered %v, want pid %s", a.Body, pid)
	}
	got, err := procMessages(ctx, c.API(2), pid, 3*time.Second, 0)
	procMust(t, err)
	if len(got) != 1 || !procJSONEqual(got[0], []byte(body)) {
		t.Fatalf("received %s, want exactly %s", got, body)
	}
	for k := range 3 {
		_, err := c.API(2).expect(ctx, "POST", path, fmt.Sprint(k), http.StatusAccepted)
		procMust(t, err)
	}
	first, err := procMessages(ctx, c.API(2), pid, time.Second, 2)
	procMust(t, err)
	rest, err := procMessages(ctx, c.API(2), pid, time.Second, 2)
	procMust(t, err)
	if len(first) != 2 || string(first[0]) != "0" || string(first[1]) != "1" || len(rest) != 1 || string(rest[0]) != "2" {
		t.Errorf("max=2 polls gave %s then %s, want [0 1] then [2]", first, rest)
	}
	polled := time.Now()
	if none, err := procMessages(ctx, c.API(2), pid, 300*time.Millisecond, 0); err != nil || len(none) != 0 || time.Since(polled) < 300*time.Millisecond {
		t.Errorf("wait=300ms on an empty mailbox: %s, %v after %v; want none after the wait", none, err, time.Since(polled))
	}
	a = procExpectError(t, c.API(1), "GET", path+"?wait=1s", "", http.StatusMisdirectedRequest, "remote_pid")
	if a.str("node") != c.Name(2) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(2))
	}
}

// procContractGlobalNames: register (201 with fence), taken from another node
// (409 with owner), lookup on every node (stale and consistent), and
// unregister (409 not owner, 404 unknown, 204 by the owner).
func procContractGlobalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := procSpawnOn(t, c, 0)
	a, err := c.API(0).expect(ctx, "PUT", "/v1/names/svc.db", fmt.Sprintf(`{"pid":%q,"meta":{"v":2}}`, pid), http.StatusCreated)
	procMust(t, err)
	fence, _ := a.Body["fence"].(float64)
	if a.str("name") != "svc.db" || a.str("pid") != pid || a.str("node") != c.Name(0) || fence <= 0 {
		t.Errorf("register answered %v", a.Body)
	}
	if m, _ := a.Body["meta"].(map[string]any); m["v"] != 2.0 {
		t.Errorf("register meta %v, want {v:2}", a.Body["meta"])
	}
	index, _ := a.Body["index"].(float64)
	procMust(t, WaitFor(procContractWait, func() error { return procAppliedAll(c, index) }))
	other := procSpawnOn(t, c, 1)
	a, err = c.API(1).register(ctx, "svc.db", other)
	procMust(t, err)
	procMust(t, procWantError(a, http.StatusConflict, "name_taken"))
	if owner, _ := a.Body["owner"].(map[string]any); owner["pid"] != pid || owner["fence"] != fence {
		t.Errorf("409 owner %v, want pid %s fence %v", a.Body["owner"], pid, fence)
	}
	procMust(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "svc.db", pid, fence, procContractWait))
	for i := range c.Size() {
		a, err := c.API(i).expect(ctx, "GET", "/v1/names/svc.db?consistent=1", "", http.StatusOK)
		procMust(t, err)
		if a.str("pid") != pid || a.Body["fence"] != fence {
			t.Errorf("%s consistent lookup %v", c.Name(i), a.Body)
		}
	}
	procExpectError(t, c.API(2), "GET", "/v1/names/svc.nothing?consistent=1", "", http.StatusNotFound, "not_found")

	procExpectError(t, c.API(0), "DELETE", "/v1/names/svc.db?pid="+url.QueryEscape(other), "", http.StatusConflict, "not_owner")
	procExpectError(t, c.API(0), "DELETE", "/v1/names/svc.nothing?pid="+url.QueryEscape(pid), "", http.StatusNotFound, "not_found")
	_, err = c.API(0).expect(ctx, "DELETE", "/v1/names/svc.db?pid="+url.QueryEscape(pid), "", http.StatusNoContent)
	procMust(t, err)
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "svc.db", time.Now(), procContractWait)
	procMust(t, err)
}

// procContractGlobalListSend: a prefix list is sorted and holds only the
// prefix; a send by name from another node reaches the owner, fenced to
// its registration; an unknown name is 404.
func procContractGlobalListSend(t *testing.T, c *procCluster) {
	ctx := context.Background()
	owner := procSpawnOn(t, c, 1)
	var fences = map[string]float64{}
	for _, n := range []string{"ls.b", "lt.x", "ls.a", "ls.c", "l"} {
		_, f, err := procRegisterPID(ctx, c.API(1), n, owner)
		procMust(t, err)
		fences[n] = f
	}
	procMust(t, WaitFor(procContractWait, func() error {
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
	procMust(t, err)
	if list, _ := a.Body["names"].([]any); len(list) != 3 {
		t.Errorf("consistent prefix list %v, want 3 names", a.Body)
	}
	a, err = c.API(0).expect(ctx, "POST", "/v1/names/ls.b/messages", `{"hello":"by name"}`, http.StatusAccepted)
	procMust(t, err)
	if a.str("pid") != owner || a.Body["fence"] != fences["ls.b"] {
		t.Errorf("send by name answered %v, want pid %s fence %v", a.Body, owner, fences["ls.b"])
	}
	got, err := procMessages(ctx, c.API(1), owner, 3*time.Second, 0)
	procMust(t, err)
	if len(got) != 1 || !procJSONEqual(got[0], []byte(`{"hello":"by name"}`)) {
		t.Errorf("owner received %s, want the message sent by name", got)
	}
	procExpectError(t, c.API(2), "POST", "/v1/names/ls.nothing/messages", `1`, http.StatusNotFound, "not_found")
}

// procContractLocalNames: a node's unique registry over HTTP.
func procContractLocalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(2)
	p1, p2 := procSpawnOn(t, c, 2), procSpawnOn(t, c, 2)
	_, err := api.expect(ctx, "PUT", "/v1/local/names/worker", fmt.Sprintf(`{"pid":%q}`, p1), http.StatusCreated)
	procMust(t, err)
	a, err := api.expect(ctx, "GET", "/v1/local/names/worker", "", http.StatusOK)
	procMust(t, err)
	if a.str("key") != "worker" || a.str("pid") != p1 {
		t.Errorf("local lookup %v, want worker -> %s", a.Body, p1)
	}
	a = procExpectError(t, api, "PUT", "/v1/local/names/worker", fmt.Sprintf(`{"pid":%q}`, p2), http.StatusConflict, "name_taken")
	if owner, _ := a.Body["owner"].(map[string]any); owner["pid"] != p1 {
		t.Errorf("409 owner %v, want %s", a.Body["owner"], p1)
	}
	procExpectError(t, c.API(0), "GET", "/v1/local/names/worker", "", http.StatusNotFound, "not_found") // node-scoped
	procExpectError(t, api, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p2), "", http.StatusConflict, "not_owner")
	_, err = api.expect(ctx, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p1), "", http.StatusNoContent)
	procMust(t, err)
	procExpectError(t, api, "GET", "/v1/local/names/worker", "", http.StatusNotFound, "not_found")
	procExpectError(t, api, "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(p1), "", http.StatusNotFound, "not_found")
}

// procContractLocalGroups: two members join, a broadcast reaches both, one
// leaves.
func procContractLocalGroups(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(0)
	p1, p2 := procSpawnOn(t, c, 0), procSpawnOn(t, c, 0)
	for _, p := range []string{p1, p2} {
		_, err := api.expect(ctx, "PUT", "/v1/local/groups/pool", fmt.Sprintf(`{"pid":%q}`, p), http.StatusCreated)
		procMust(t, err)
	}
	members := func() []string {
		a, err := api.expect(ctx, "GET", "/v1/local/groups/pool", "", http.StatusOK)
		procMust(t, err)
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
	procMust(t, err)
	if a.Body["sent"] != 2.0 {
		t.Errorf("broadcast answered %v, want sent 2", a.Body)
	}
	for _, p := range []string{p1, p2} {
		got, err := procMessages(ctx, api, p, 3*time.Second, 0)
		procMust(t, err)
		if len(got) != 1 || !procJSONEqual(got[0], []byte(`{"job":1}`)) {
			t.Errorf("member %s received %s, want the broadcast", p, got)
		}
	}
	_, err = api.expect(ctx, "DELETE", "/v1/local/groups/pool?pid="+url.QueryEscape(p1), "", http.StatusNoContent)
	procMust(t, err)
	if got := members(); !slices.Equal(got, []string{p2}) {
		t.Errorf("after leave members %v, want [%s]", got, p2)
	}
	procExpectError(t, api, "DELETE", "/v1/local/groups/pool?pid="+url.QueryEscape(p1), "", http.StatusNotFound, "not_found")
}

// procContractWatch: register and unregister produce events with reason and
// index, names outside the prefix none; resuming with ?index= or
// Last-Event-ID replays exactly the later events; the stream ends when the
// client goes.
func procContractWatch(t *testing.T, c *procCluster) {
	ctx := context.Background()
	w, err := procStartWatch(ctx, c.API(1), "prefix=w.", nil)
	procMust(t, err)
	pid := procSpawnOn(t, c, 0)
	_, fence, err := procRegisterPID(ctx, c.API(0), "w.a", pid)
	procMust(t, err)
	_, _, err = procRegisterPID(ctx, c.API(0), "x.other", pid)
	procMust(t, err)
	_, err = c.API(0).expect(ctx, "DELETE", "/v1/names/w.a?pid="+url.QueryEscape(pid), "", http.StatusNoContent)
	procMust(t, err)
	reg := procWantEvent(t, w, "registered", "w.a", "register")
	unreg := procWantEvent(t, w, "unregistered", "w.a", "unregister")
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
		procMust(t, err)
		ev, err := rw.next(procContractWait)
		procMust(t, err)
		if ev.ID != unreg.ID || ev.Event != "unregistered" || ev.Data["name"] != "w.a" {
			t.Errorf("resume %s %v on %s replayed %+v first, want %+v", r.query, r.hdr, c.Name(r.node), ev, unreg)
		}
		if err := rw.quiet(300 * time.Millisecond); err != nil {
			t.Errorf("resume %s %v: %v", r.query, r.hdr, err)
		}
		procMust(t, rw.close(5*time.Second))
	}
	all, err := procStartWatch(ctx, c.API(2), "prefix=w.&index=0", nil)
	procMust(t, err)
	for _, want := range []procEvent{reg, unreg} {
		if ev, err := all.next(procContractWait); err != nil || ev.ID != want.ID || ev.Event != want.Event {
			t.Errorf("index=0 replayed %+v (%v), want %s %s", ev, err, want.ID, want.Event)
		}
	}
	procMust(t, all.close(5*time.Second))
	procMust(t, w.close(5*time.Second))
}

// procContractWatchExit: a named process's exit shows as an unregistered
// event with reason process_exit on another node's stream.
func procContractWatchExit(t *testing.T, c *procCluster) {
	ctx := context.Background()
	w, err := procStartWatch(ctx, c.API(2), "prefix=wx.", nil)
	procMust(t, err)
	pid := procSpawnOn(t, c, 1)
	_, _, err = procRegisterPID(ctx, c.API(1), "wx.exit", pid)
	procMust(t, err)
	_, err = c.API(1).expect(ctx, "DELETE", "/v1/processes/"+url.PathEscape(pid), "", http.StatusNoContent)
	procMust(t, err)
	procWantEvent(t, w, "registered", "wx.exit", "register")
	if ev := procWantEvent(t, w, "unregistered", "wx.exit", "process_exit"); ev.Data["pid"] != pid {
		t.Errorf("process_exit event %v, want pid %s", ev.Data, pid)
	}
	procMust(t, w.close(5*time.Second))
}

// procContractWatchGone: a watch stream ends on the agent when its client
// goes: once procWatchStreams open streams are dropped, the agent's
// go_goroutines falls by at least one per stream and back to within one
// goroutine per stream of where it was before they opened (each open
// stream holds about four; the slack absorbs Raft and gossip noise).
func procContractWatchGone(t *testing.T, c *procCluster) {
	ctx := context.Background()
	api := c.API(2)
	before, err := procGoroutines(ctx, api)
	procMust(t, err)
	var ws []*procWatch
	for range procWatchStreams {
		w, err := procStartWatch(ctx, api, "prefix=gone.", nil)
		procMust(t, err)
		ws = append(ws, w)
	}
	open, err := procGoroutines(ctx, api)
	procMust(t, err)
	for _, w := range ws {
		procMust(t, w.close(5*time.Second))
	}
	var after float64
	err = WaitFor(procContractWait, func() error {
		if after, err = procGoroutines(ctx, api); err != nil {
			return err
		}
		if after > open-procWatchStreams || after > before+procWatchStreams {
			return fmt.Errorf("go_goroutines %v before, %v with %d streams open, %v after their clients went", before, open, procWatchStreams, after)
		}
		return nil
	})
	procMust(t, err)
	t.Logf("go_goroutines: %v before, %v with %d watch streams, %v after their clients went", before, open, procWatchStreams, after)
}

// procContractMetrics: every node serves Prometheus text with the raft,
// memberlist and roster families and the purge latency histogram.
func procContractMetrics(t *testing.T, c *procCluster) {
	for i := range c.Size() {
		err := WaitFor(procContractWait, func() error { return procCheckMetrics(context.Background(), c.API(i)) })
		if err != nil {
			t.Errorf("%s: %v", c.Name(i), err)
		}
	}
}

// procContractBadInput: malformed or oversized bodies, bad pids, names and
// durations, and unsupported methods get the documented status and a JSON
// {"error","code"} body.
func procContractBadInput(t *testing.T, c *procCluster) {
	ctx := context.Background()
	pid := procSpawnOn(t, c, 0)
	for _, k := range procBadRequests(pid) {
		a, err := c.API(1).raw(ctx, k.method, k.path, k.body, nil)
		procMust(t, err)
		if err := procWantRawError(a, k.status, k.code); err != nil {
			t.Errorf("%s %.60s: %v", k.method, k.path, err)
		}
	}
	for req, allow := range procAllowed {
		method, path, _ := strings.Cut(req, " ")
		a, err := c.API(2).raw(ctx, method, path, nil, nil)
		procMust(t, err)
		if err := procWantRawError(a, http.StatusMethodNotAllowed, "method_not_allowed"); err != nil {
			t.Errorf("%s: %v", req, err)
		}
		if got := a.Header.Get("Allow"); got != allow {
			t.Errorf("%s: Allow %q, want %q", req, got, allow)
		}
	}
}

// procContractKillOwner: kill -9 of the agent owning a name makes the name
// disappear from the two survivors within procPurgeBound.
func procContractKillOwner(t *testing.T, c *procCluster) {
	ctx := context.Background()
	leader := c.Leader(ctx)
	if leader < 0 {
		t.Fatal("no agreed leader")
	}
	owner := (leader + 1) % c.Size() // a follower: the survivors keep their leader
	pid, fence, err := procRegister(ctx, c.API(owner), "kill.owned")
	procMust(t, err)
	survivors := c.apis(c.others(owner))
	procMust(t, procWaitName(ctx, survivors, "kill.owned", pid, fence, procContractWait))
	start := time.Now()
	procMust(t, c.Kill(owner))
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
		procMust(t, err)
		if code != wantCode {
			t.Fatalf("clusternode %s: exit %d, want %d: %s", strings.Join(args, " "), code, wantCode, out)
		}
		return out
	}
	addr := strings.TrimPrefix(c.API(at).base, "http://")
	t.Run("status_members", func(t *testing.T) { procCLIStatusMembers(t, c, at, cli, addr) })
	t.Run("names_whereis_send", func(t *testing.T) { procCLINamesWhereisSend(t, c, at, cli, addr) })
	t.Run("health", func(t *testing.T) {
		if out := cli(0, "health", "-http-addr", addr); strings.TrimSpace(out) != "healthy" {
			t.Errorf("health printed %q", out)
		}
		var h map[string]any
		procMust(t, json.Unmarshal([]byte(cli(0, "health", "-json", "-http-addr", addr)), &h))
		if h["healthy"] != true || h["node"] != c.Name(at) {
			t.Errorf("health -json %v", h)
		}
		dead, err := procDeadAddr()
		procMust(t, err)
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
