package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/api"
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
	t.Run("blocking_register", func(t *testing.T) { procContractBlockingRegister(t, c) })
	t.Run("cli_campaign", func(t *testing.T) { procContractCLICampaign(t, c) })
	t.Run("local_names", func(t *testing.T) { procContractLocalNames(t, c) })
	t.Run("local_groups", func(t *testing.T) { procContractLocalGroups(t, c) })
	t.Run("cluster_groups_api", func(t *testing.T) { procContractClusterGroupsAPI(t, c) })
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

// procContractProcesses: spawn, renew, delete (through the api client); a
// deleted process's global and local names go with it; the status codes
// of a remote or gone pid (raw).
func procContractProcesses(t *testing.T, c *procCluster) {
	ctx := context.Background()
	cl := c.API(0).Client()
	p, err := cl.Processes().Spawn(ctx, 45*time.Second)
	procMust(t, err)
	pid := string(p.PID)
	if !strings.HasPrefix(pid, c.Name(0)+".") || p.TTL != 45*time.Second {
		t.Errorf("spawn answered %+v, want a pid of %s and ttl 45s", p, c.Name(0))
	}
	if d, err := cl.Processes().Spawn(ctx, 0); err != nil || d.TTL != 30*time.Second {
		t.Errorf("spawn without a ttl: %+v %v, want the default ttl 30s", d, err)
	}
	r, err := cl.Processes().Renew(ctx, p.PID, time.Minute)
	procMust(t, err)
	if r.TTL != time.Minute {
		t.Errorf("renew answered %+v, want ttl 1m", r)
	}
	var e *api.Error
	if _, err := c.API(1).Client().Processes().Renew(ctx, p.PID, time.Minute); !errors.Is(err, api.ErrRemotePID) || !errors.As(err, &e) || e.Node != c.Name(0) {
		t.Errorf("renew on another node: %v, want remote_pid naming %s", err, c.Name(0))
	}
	reg, err := cl.Names().Register(ctx, "proc.del", p.PID, nil)
	procMust(t, err)
	procMust(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "proc.del", pid, float64(reg.Fence), procContractWait))
	_, err = cl.Local().Register(ctx, "proc.del", p.PID)
	procMust(t, err)

	procMust(t, cl.Processes().Kill(ctx, p.PID))
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "proc.del", time.Now(), procContractWait)
	procMust(t, err)
	procMust(t, WaitFor(procContractWait, func() error {
		if _, err := cl.Local().Lookup(ctx, "proc.del"); !errors.Is(err, api.ErrNotFound) {
			return fmt.Errorf("local name of a deleted process: %v", err)
		}
		return nil
	}))
	pp := "/v1/processes/" + url.PathEscape(pid)
	procExpectError(t, c.API(0), "DELETE", pp, "", http.StatusNotFound, "noproc")
	procExpectError(t, c.API(0), "PUT", pp+"/renew", `{}`, http.StatusNotFound, "noproc")
	a := procExpectError(t, c.API(1), "PUT", pp+"/renew", `{"ttl":"1m"}`, http.StatusMisdirectedRequest, "remote_pid")
	if a.str("node") != c.Name(0) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(0))
	}
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
	owner, sender := c.API(2).Client(), c.API(0).Client()
	pid := api.PID(procSpawnOn(t, c, 2))
	body := `{"order":7,"items":["a","b"],"nested":{"ok":true,"n":null}}`
	procMust(t, sender.Processes().Send(ctx, pid, json.RawMessage(body)))
	got, err := owner.Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: 3 * time.Second})
	procMust(t, err)
	if len(got) != 1 || !procJSONEqual(got[0].Body, []byte(body)) {
		t.Fatalf("received %+v, want exactly %s", got, body)
	}
	for k := range 3 {
		procMust(t, owner.Processes().Send(ctx, pid, k))
	}
	first, err := owner.Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: time.Second, Max: 2})
	procMust(t, err)
	rest, err := owner.Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: time.Second, Max: 2})
	procMust(t, err)
	if len(first) != 2 || string(first[0].Body) != "0" || string(first[1].Body) != "1" || len(rest) != 1 || string(rest[0].Body) != "2" {
		t.Errorf("max=2 polls gave %+v then %+v, want [0 1] then [2]", first, rest)
	}
	polled := time.Now()
	if none, err := owner.Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: 300 * time.Millisecond}); err != nil || len(none) != 0 || time.Since(polled) < 300*time.Millisecond {
		t.Errorf("wait=300ms on an empty mailbox: %+v, %v after %v; want none after the wait", none, err, time.Since(polled))
	}
	var e *api.Error
	if _, err := c.API(1).Client().Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: time.Second}); !errors.Is(err, api.ErrRemotePID) || !errors.As(err, &e) || e.Node != c.Name(2) {
		t.Errorf("poll on another node: %v, want remote_pid naming %s", err, c.Name(2))
	}
	a := procExpectError(t, c.API(1), "GET", "/v1/processes/"+url.PathEscape(string(pid))+"/messages?wait=1s", "", http.StatusMisdirectedRequest, "remote_pid")
	if a.str("node") != c.Name(2) {
		t.Errorf("421 names node %q, want %s", a.str("node"), c.Name(2))
	}
}

// procContractGlobalNames: register (with fence and meta), taken from
// another node (name_taken with the owner), lookup on every node (local
// replica and consistent), and unregister (not owner, unknown, by the
// owner), through the api client; the status codes raw.
func procContractGlobalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	cl := c.API(0).Client()
	pid := api.PID(procSpawnOn(t, c, 0))
	reg, err := cl.Names().Register(ctx, "svc.db", pid, map[string]int{"v": 2})
	procMust(t, err)
	if reg.Name != "svc.db" || reg.PID != pid || string(reg.Node) != c.Name(0) || reg.Fence == 0 || !procJSONEqual(reg.Meta, []byte(`{"v":2}`)) {
		t.Errorf("register answered %+v", reg)
	}
	procMust(t, WaitFor(procContractWait, func() error { return procAppliedAll(c, float64(reg.Index)) }))
	other := api.PID(procSpawnOn(t, c, 1))
	_, err = c.API(1).Client().Names().Register(ctx, "svc.db", other, nil)
	var e *api.Error
	if !errors.Is(err, api.ErrNameTaken) || !errors.As(err, &e) || e.Owner == nil || e.Owner.PID != pid || e.Owner.Fence != reg.Fence {
		t.Errorf("register of a taken name: %v (%+v), want name_taken with owner %s fence %d", err, e, pid, reg.Fence)
	}
	a, err := c.API(1).register(ctx, "svc.db", string(other))
	procMust(t, err)
	procMust(t, procWantError(a, http.StatusConflict, "name_taken"))
	procMust(t, procWaitName(ctx, c.apis([]int{0, 1, 2}), "svc.db", string(pid), float64(reg.Fence), procContractWait))
	for i := range c.Size() {
		got, err := c.API(i).Client().Names().Lookup(ctx, "svc.db", api.ReadOptions{Consistent: true})
		procMust(t, err)
		if got.PID != pid || got.Fence != reg.Fence {
			t.Errorf("%s consistent lookup %+v", c.Name(i), got)
		}
	}
	if _, err := c.API(2).Client().Names().Lookup(ctx, "svc.nothing", api.ReadOptions{Consistent: true}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("consistent lookup of an unknown name: %v", err)
	}
	procExpectError(t, c.API(2), "GET", "/v1/names/svc.nothing?consistent=1", "", http.StatusNotFound, "not_found")

	if err := cl.Names().Unregister(ctx, "svc.db", other); !errors.Is(err, api.ErrNotOwner) {
		t.Errorf("unregister by another pid: %v, want not_owner", err)
	}
	if err := cl.Names().Unregister(ctx, "svc.nothing", pid); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unregister of an unknown name: %v, want not_found", err)
	}
	procExpectError(t, c.API(0), "DELETE", "/v1/names/svc.db?pid="+url.QueryEscape(string(other)), "", http.StatusConflict, "not_owner")
	procMust(t, cl.Names().Unregister(ctx, "svc.db", pid))
	_, err = procWaitGone(ctx, c.apis([]int{0, 1, 2}), "svc.db", time.Now(), procContractWait)
	procMust(t, err)
}

// procContractGlobalListSend: a prefix list is sorted and holds only the
// prefix; a send by name from another node reaches the owner, fenced to
// its registration; an unknown name is not_found.
func procContractGlobalListSend(t *testing.T, c *procCluster) {
	ctx := context.Background()
	owner := api.PID(procSpawnOn(t, c, 1))
	fences := map[string]uint64{}
	for _, n := range []string{"ls.b", "lt.x", "ls.a", "ls.c", "l"} {
		reg, err := c.API(1).Client().Names().Register(ctx, n, owner, nil)
		procMust(t, err)
		fences[n] = reg.Fence
	}
	listed := func(regs []api.Registration) []string {
		var got []string
		for _, r := range regs {
			got = append(got, r.Name)
		}
		return got
	}
	want := []string{"ls.a", "ls.b", "ls.c"}
	procMust(t, WaitFor(procContractWait, func() error {
		regs, err := c.API(2).Client().Names().ListAll(ctx, api.ListOptions{Prefix: "ls."})
		if err != nil {
			return err
		}
		if got := listed(regs); !slices.Equal(got, want) {
			return fmt.Errorf("prefix ls. lists %v, want %v", got, want)
		}
		return nil
	}))
	regs, err := c.API(0).Client().Names().ListAll(ctx, api.ListOptions{Prefix: "ls.", ReadOptions: api.ReadOptions{Consistent: true}})
	procMust(t, err)
	if got := listed(regs); !slices.Equal(got, want) {
		t.Errorf("consistent prefix list %v, want %v", got, want)
	}
	// Pages of 2 through the client's cursors: the first page says there
	// is more, and reading every page gives the same list.
	page, err := c.API(2).Client().Names().List(ctx, api.ListOptions{Prefix: "ls.", Limit: 2})
	procMust(t, err)
	if got := listed(page.Names); !slices.Equal(got, want[:2]) || page.Next == "" {
		t.Errorf("first page of 2: %v next %q, want %v and a cursor", got, page.Next, want[:2])
	}
	regs, err = c.API(2).Client().Names().ListAll(ctx, api.ListOptions{Prefix: "ls.", Limit: 2})
	procMust(t, err)
	if got := listed(regs); !slices.Equal(got, want) {
		t.Errorf("pages of 2 list %v, want %v", got, want)
	}
	sent, err := c.API(0).Client().Names().Send(ctx, "ls.b", map[string]string{"hello": "by name"})
	procMust(t, err)
	if sent.PID != owner || sent.Fence != fences["ls.b"] {
		t.Errorf("send by name answered %+v, want pid %s fence %d", sent, owner, fences["ls.b"])
	}
	got, err := c.API(1).Client().Processes().Receive(ctx, owner, api.ReceiveOptions{Wait: 3 * time.Second})
	procMust(t, err)
	if len(got) != 1 || !procJSONEqual(got[0].Body, []byte(`{"hello":"by name"}`)) {
		t.Errorf("owner received %+v, want the message sent by name", got)
	}
	if _, err := c.API(2).Client().Names().Send(ctx, "ls.nothing", 1); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("send to an unknown name: %v", err)
	}
	procExpectError(t, c.API(2), "POST", "/v1/names/ls.nothing/messages", `1`, http.StatusNotFound, "not_found")
}

// procContractLocalNames: a node's unique registry.
func procContractLocalNames(t *testing.T, c *procCluster) {
	ctx := context.Background()
	local := c.API(2).Client().Local()
	p1, p2 := api.PID(procSpawnOn(t, c, 2)), api.PID(procSpawnOn(t, c, 2))
	_, err := local.Register(ctx, "worker", p1)
	procMust(t, err)
	got, err := local.Lookup(ctx, "worker")
	procMust(t, err)
	if got.Key != "worker" || got.PID != p1 {
		t.Errorf("local lookup %+v, want worker -> %s", got, p1)
	}
	_, err = local.Register(ctx, "worker", p2)
	var e *api.Error
	if !errors.Is(err, api.ErrNameTaken) || !errors.As(err, &e) || e.Owner == nil || e.Owner.PID != p1 {
		t.Errorf("register of a taken local name: %v (%+v), want name_taken with owner %s", err, e, p1)
	}
	procExpectError(t, c.API(2), "PUT", "/v1/local/names/worker", fmt.Sprintf(`{"pid":%q}`, p2), http.StatusConflict, "name_taken")
	if _, err := c.API(0).Client().Local().Lookup(ctx, "worker"); !errors.Is(err, api.ErrNotFound) { // node-scoped
		t.Errorf("another node's local name: %v, want not_found", err)
	}
	if err := local.Unregister(ctx, "worker", p2); !errors.Is(err, api.ErrNotOwner) {
		t.Errorf("unregister by another pid: %v, want not_owner", err)
	}
	procMust(t, local.Unregister(ctx, "worker", p1))
	if _, err := local.Lookup(ctx, "worker"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("lookup after unregister: %v", err)
	}
	procExpectError(t, c.API(2), "DELETE", "/v1/local/names/worker?pid="+url.QueryEscape(string(p1)), "", http.StatusNotFound, "not_found")
}

// procContractLocalGroups: two members join, a broadcast reaches both, one
// leaves.
func procContractLocalGroups(t *testing.T, c *procCluster) {
	ctx := context.Background()
	cl := c.API(0).Client()
	p1, p2 := api.PID(procSpawnOn(t, c, 0)), api.PID(procSpawnOn(t, c, 0))
	for _, p := range []api.PID{p1, p2} {
		procMust(t, cl.Local().Join(ctx, "pool", p))
	}
	members := func() []api.PID {
		ms, err := cl.Local().Members(ctx, "pool")
		procMust(t, err)
		slices.Sort(ms)
		return ms
	}
	if got, want := members(), slices.Sorted(slices.Values([]api.PID{p1, p2})); !slices.Equal(got, want) {
		t.Errorf("group members %v, want %v", got, want)
	}
	n, err := cl.Local().SendGroup(ctx, "pool", map[string]int{"job": 1})
	procMust(t, err)
	if n != 2 {
		t.Errorf("broadcast reached %d, want 2", n)
	}
	for _, p := range []api.PID{p1, p2} {
		got, err := cl.Processes().Receive(ctx, p, api.ReceiveOptions{Wait: 3 * time.Second})
		procMust(t, err)
		if len(got) != 1 || !procJSONEqual(got[0].Body, []byte(`{"job":1}`)) {
			t.Errorf("member %s received %+v, want the broadcast", p, got)
		}
	}
	procMust(t, cl.Local().Leave(ctx, "pool", p1))
	if got := members(); !slices.Equal(got, []api.PID{p2}) {
		t.Errorf("after leave members %v, want [%s]", got, p2)
	}
	if err := cl.Local().Leave(ctx, "pool", p1); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("leave by a non-member: %v, want not_found", err)
	}
	procExpectError(t, c.API(0), "DELETE", "/v1/local/groups/pool?pid="+url.QueryEscape(string(p1)), "", http.StatusNotFound, "not_found")
}

// procContractWatch: register and unregister produce events with reason and
// index, names outside the prefix none; resuming with an event id, a whole
// index, or Last-Event-ID (raw: a header the api client does not send)
// replays exactly the later events; index 0 replays the history.
func procContractWatch(t *testing.T, c *procCluster) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := c.API(1).Client().Watch(ctx, api.WatchOptions{Prefix: "w."})
	procMust(t, err)
	cl := c.API(0).Client()
	pid := api.PID(procSpawnOn(t, c, 0))
	regd, err := cl.Names().Register(ctx, "w.a", pid, nil)
	procMust(t, err)
	_, err = cl.Names().Register(ctx, "x.other", pid, nil)
	procMust(t, err)
	procMust(t, cl.Names().Unregister(ctx, "w.a", pid))
	reg := procWantAPIEvent(t, w, "registered", "w.a", "register")
	unreg := procWantAPIEvent(t, w, "unregistered", "w.a", "unregister")
	if reg.PID != pid || reg.Fence != regd.Fence || string(reg.Node) != c.Name(0) {
		t.Errorf("registered event %+v, want pid %s fence %d node %s", reg, pid, regd.Fence, c.Name(0))
	}
	if unreg.Index <= reg.Index {
		t.Errorf("unregistered index %d not after registered %d", unreg.Index, reg.Index)
	}
	for _, r := range []struct {
		node  int
		index string
	}{{2, reg.ID}, {0, strconv.FormatUint(reg.Index, 10)}} {
		rctx, rcancel := context.WithCancel(ctx)
		rw, err := c.API(r.node).Client().Watch(rctx, api.WatchOptions{Prefix: "w.", Index: r.index})
		procMust(t, err)
		ev := procNextAPIEvent(t, rw, procContractWait)
		if ev.ID != unreg.ID || ev.Type != "unregistered" || ev.Name != "w.a" {
			t.Errorf("resume after %s on %s replayed %+v first, want %+v", r.index, c.Name(r.node), ev, unreg)
		}
		select {
		case ev, ok := <-rw:
			if ok {
				t.Errorf("resume after %s: unexpected event %+v", r.index, ev)
			}
		case <-time.After(300 * time.Millisecond):
		}
		rcancel()
	}
	raw, err := procStartWatch(ctx, c.API(1), "prefix=w.", http.Header{"Last-Event-ID": {reg.ID}})
	procMust(t, err)
	if ev, err := raw.next(procContractWait); err != nil || ev.ID != unreg.ID || ev.Event != "unregistered" {
		t.Errorf("Last-Event-ID %s replayed %+v (%v), want %s", reg.ID, ev, err, unreg.ID)
	}
	procMust(t, raw.quiet(300*time.Millisecond))
	procMust(t, raw.close(5*time.Second))
	all, err := c.API(2).Client().Watch(ctx, api.WatchOptions{Prefix: "w.", Index: "0"})
	procMust(t, err)
	for _, want := range []api.Event{reg, unreg} {
		if ev := procNextAPIEvent(t, all, procContractWait); ev.ID != want.ID || ev.Type != want.Type {
			t.Errorf("index=0 replayed %+v, want %s %s", ev, want.ID, want.Type)
		}
	}
}

// procContractWatchExit: a named process's exit shows as an unregistered
// event with reason process_exit on another node's stream.
func procContractWatchExit(t *testing.T, c *procCluster) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := c.API(2).Client().Watch(ctx, api.WatchOptions{Prefix: "wx."})
	procMust(t, err)
	cl := c.API(1).Client()
	pid := api.PID(procSpawnOn(t, c, 1))
	_, err = cl.Names().Register(ctx, "wx.exit", pid, nil)
	procMust(t, err)
	procMust(t, cl.Processes().Kill(ctx, pid))
	procWantAPIEvent(t, w, "registered", "wx.exit", "register")
	if ev := procWantAPIEvent(t, w, "unregistered", "wx.exit", "process_exit"); ev.PID != pid {
		t.Errorf("process_exit event %+v, want pid %s", ev, pid)
	}
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

// procContractClusterGroupsAPI: the cluster-wide groups through the api
// client: a join with meta on one node is seen from another (members and
// list), shows in a groups watch, a publish from a third node reaches the
// member, and the leave empties the group.
func procContractClusterGroupsAPI(t *testing.T, c *procCluster) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := c.API(2).Client().Groups().Watch(ctx, "cg.")
	procMust(t, err)
	pid := api.PID(procSpawnOn(t, c, 0))
	m, err := c.API(0).Client().Groups().Join(ctx, "cg.workers", pid, map[string]int{"slot": 1})
	procMust(t, err)
	if m.PID != pid || m.Count != 1 {
		t.Errorf("join answered %+v", m)
	}
	procMust(t, WaitFor(procContractWait, func() error {
		ms, _, err := c.API(1).Client().Groups().Members(ctx, "cg.workers", 0)
		if err != nil {
			return err
		}
		if len(ms) != 1 || ms[0].PID != pid || string(ms[0].Node) != c.Name(0) || !procJSONEqual(ms[0].Meta, []byte(`{"slot":1}`)) {
			return fmt.Errorf("members seen from %s: %+v", c.Name(1), ms)
		}
		page, err := c.API(1).Client().Groups().List(ctx, api.ListOptions{Prefix: "cg."})
		if err != nil {
			return err
		}
		if len(page.Groups) != 1 || page.Groups[0].Name != "cg.workers" || page.Groups[0].Members != 1 {
			return fmt.Errorf("groups listed by %s: %+v", c.Name(1), page)
		}
		return nil
	}))
	select {
	case ev := <-watch:
		if ev.Type != "join" || ev.Group != "cg.workers" || ev.PID != pid {
			t.Errorf("group watch: %+v, want the join", ev)
		}
	case <-time.After(procContractWait):
		t.Error("no join event on the groups watch")
	}
	procMust(t, WaitFor(procContractWait, func() error {
		n, err := c.API(2).Client().Groups().Publish(ctx, "cg.workers", map[string]string{"job": "x"})
		if err != nil || n != 1 {
			return fmt.Errorf("publish from %s reached %d: %v", c.Name(2), n, err)
		}
		return nil
	}))
	got, err := c.API(0).Client().Processes().Receive(ctx, pid, api.ReceiveOptions{Wait: 3 * time.Second})
	procMust(t, err)
	if len(got) != 1 || !procJSONEqual(got[0].Body, []byte(`{"job":"x"}`)) {
		t.Errorf("member received %+v, want the publish", got)
	}
	procMust(t, c.API(0).Client().Groups().Leave(ctx, "cg.workers", pid))
	procMust(t, WaitFor(procContractWait, func() error {
		ms, _, err := c.API(1).Client().Groups().Members(ctx, "cg.workers", 0)
		if err != nil || len(ms) != 0 {
			return fmt.Errorf("after the leave %s sees %+v (%v)", c.Name(1), ms, err)
		}
		return nil
	}))
}

// procNextAPIEvent reads the next event of an api watch, failing the test
// on a timeout, a closed channel or an error event.
func procNextAPIEvent(t *testing.T, w <-chan api.Event, d time.Duration) api.Event {
	t.Helper()
	select {
	case ev, ok := <-w:
		if !ok || ev.Err != "" {
			t.Fatalf("watch ended: %+v", ev)
		}
		return ev
	case <-time.After(d):
		t.Fatalf("no watch event within %v", d)
	}
	return api.Event{}
}

// procWantAPIEvent reads the next event and checks its type, name, reason
// and that its id is "<index>.<n>".
func procWantAPIEvent(t *testing.T, w <-chan api.Event, typ, name, reason string) api.Event {
	t.Helper()
	ev := procNextAPIEvent(t, w, procContractWait)
	if ev.Type != typ || ev.Name != name || ev.Reason != reason || ev.Index < 1 || !strings.HasPrefix(ev.ID, strconv.FormatUint(ev.Index, 10)+".") {
		t.Fatalf("event %+v, want %s %s reason %s with id <index>.<n>", ev, typ, name, reason)
	}
	return ev
}
