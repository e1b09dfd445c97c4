package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGlobalNames(t *testing.T) {
	a := newTestAPI(t)
	p1, p2 := a.spawn(""), a.spawn("")
	out := a.expect("PUT", "/v1/names/svc.db", `{"pid":"`+p1+`","meta":{"role":"primary"}}`, http.StatusCreated, "")
	if out["name"] != "svc.db" || out["pid"] != p1 || out["node"] != "n1" || out["fence"].(float64) < 1 {
		t.Fatalf("register answer %v", out)
	}
	fence := out["fence"]

	out = a.expect("PUT", "/v1/names/svc.db", `{"pid":"`+p2+`"}`, http.StatusConflict, "name_taken")
	if owner := out["owner"].(map[string]any); owner["pid"] != p1 || owner["fence"] != fence {
		t.Fatalf("409 owner %v, want %s with fence %v", owner, p1, fence)
	}

	for _, q := range []string{"", "?consistent=1"} {
		out = a.expect("GET", "/v1/names/svc.db"+q, "", http.StatusOK, "")
		if out["pid"] != p1 || out["meta"].(map[string]any)["role"] != "primary" {
			t.Fatalf("lookup%s: %v", q, out)
		}
	}
	a.expect("GET", "/v1/names/nope", "", http.StatusNotFound, "not_found")

	a.expect("PUT", "/v1/names/svc.cache", `{"pid":"`+p2+`"}`, http.StatusCreated, "")
	a.expect("PUT", "/v1/names/other", `{"pid":"`+p2+`"}`, http.StatusCreated, "")
	out = a.expect("GET", "/v1/names?prefix=svc.", "", http.StatusOK, "")
	names := out["names"].([]any)
	if len(names) != 2 || names[0].(map[string]any)["name"] != "svc.cache" || names[1].(map[string]any)["name"] != "svc.db" {
		t.Fatalf("list prefix svc.: %v", names)
	}

	a.expect("DELETE", "/v1/names/svc.db?pid="+p2, "", http.StatusConflict, "not_owner")
	a.expect("DELETE", "/v1/names/svc.db", "", http.StatusBadRequest, "bad_pid")
	a.expect("DELETE", "/v1/names/svc.db?pid="+p1, "", http.StatusNoContent, "")
	a.expect("DELETE", "/v1/names/svc.db?pid="+p1, "", http.StatusNotFound, "not_found")
	a.expect("PUT", "/v1/names/svc.db", `{"pid":"`+p2+`"}`, http.StatusCreated, "")
}

func TestSendByGlobalName(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	reg := a.expect("PUT", "/v1/names/worker", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	out := a.expect("POST", "/v1/names/worker/messages", `{"job":42}`, http.StatusAccepted, "")
	if out["pid"] != pid || out["fence"] != reg["fence"] {
		t.Fatalf("send answer %v, want pid %s fence %v", out, pid, reg["fence"])
	}
	out = a.expect("GET", "/v1/processes/"+pid+"/messages?wait=5s", "", http.StatusOK, "")
	msgs := out["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["body"].(map[string]any)["job"] != float64(42) {
		t.Fatalf("received %v", msgs)
	}
	a.expect("POST", "/v1/names/ghost/messages", `1`, http.StatusNotFound, "not_found")
}

func TestGlobalNamesBadInput(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	long := strings.Repeat("n", maxNameLen+1)
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"PUT", "/v1/names/" + long, `{"pid":"` + pid + `"}`, 400, "invalid_name"},
		{"PUT", "/v1/names/%FF", `{"pid":"` + pid + `"}`, 400, "invalid_name"},
		{"GET", "/v1/names/%FF", "", 400, "invalid_name"},
		{"PUT", "/v1/names/x", `{"pid":"nope"}`, 400, "bad_pid"},
		{"PUT", "/v1/names/x", `{}`, 400, "bad_pid"},
		{"PUT", "/v1/names/x", `not json`, 400, "bad_json"},
		{"PUT", "/v1/names/x", ``, 400, "bad_json"},
		{"PUT", "/v1/names/x", `{"pid":"n1.7.999"}`, 404, "noproc"},
		{"GET", "/v1/names/x?consistent=maybe", "", 400, "bad_param"},
		{"GET", "/v1/names?consistent=2", "", 400, "bad_param"},
		{"POST", "/v1/names/x/messages", `{`, 400, "bad_json"},
		{"POST", "/v1/names", "", 405, "method_not_allowed"},
	}
	for _, c := range cases {
		a.expect(c.method, c.path, c.body, c.status, c.code)
	}
}

func TestGlobalNamesUnavailable(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	a.fake.setHealth(errors.New("no leader"))
	a.expect("PUT", "/v1/names/x", `{"pid":"`+pid+`"}`, http.StatusServiceUnavailable, "unavailable")
	a.expect("GET", "/v1/names/x?consistent=1", "", http.StatusServiceUnavailable, "unavailable")
	a.expect("GET", "/v1/health", "", http.StatusServiceUnavailable, "unhealthy")
	a.fake.setHealth(nil)
	out := a.expect("GET", "/v1/health", "", http.StatusOK, "")
	if out["node"] != "n1" {
		t.Fatalf("health %v", out)
	}
}

func TestMethodNotAllowedAndUnknownPath(t *testing.T) {
	a := newTestAPI(t)
	st, h, out := a.do("POST", "/v1/names/x", "{}")
	if st != http.StatusMethodNotAllowed || h.Get("Allow") != "DELETE, GET, HEAD, PUT" || out["code"] != "method_not_allowed" {
		t.Fatalf("POST /v1/names/x: %d Allow=%q %v", st, h.Get("Allow"), out)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("405 content type %q", ct)
	}
	a.expect("GET", "/v2/whatever", "", http.StatusNotFound, "not_found")
	a.expect("DELETE", "/v1/status", "", http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestStatus(t *testing.T) {
	a := newTestAPI(t)
	out := a.expect("GET", "/v1/status", "", http.StatusOK, "")
	raft := out["raft"].(map[string]any)
	members := out["members"].([]any)
	if out["node"] != "n1" || out["leader"] != "n1" || raft["state"] != "Leader" || len(members) != 1 || out["version"] != version {
		t.Fatalf("status %v", out)
	}
}

func TestGlobalNamesPages(t *testing.T) {
	a := newTestAPI(t)
	p := a.spawn("")
	for i := range 25 {
		a.expect("PUT", fmt.Sprintf("/v1/names/pg.%02d", i), `{"pid":"`+p+`"}`, http.StatusCreated, "")
	}
	a.expect("PUT", "/v1/names/zz", `{"pid":"`+p+`"}`, http.StatusCreated, "")
	var got []string
	after, pages := "", 0
	for {
		out := a.expect("GET", "/v1/names?prefix=pg.&limit=10&after="+url.QueryEscape(after), "", http.StatusOK, "")
		for _, n := range out["names"].([]any) {
			got = append(got, n.(map[string]any)["name"].(string))
		}
		pages++
		next, ok := out["next"].(string)
		if !ok {
			break
		}
		if next != got[len(got)-1] {
			t.Fatalf("next %q, last name of the page %q", next, got[len(got)-1])
		}
		after = next
	}
	if pages != 3 || len(got) != 25 || got[0] != "pg.00" || got[24] != "pg.24" {
		t.Fatalf("%d pages: %v", pages, got)
	}
	if out := a.expect("GET", "/v1/names", "", http.StatusOK, ""); len(out["names"].([]any)) != 26 || out["next"] != nil {
		t.Fatalf("default limit: %v", out)
	}
	for _, bad := range []string{"0", "-1", "10001", "x", "1e3"} {
		a.expect("GET", "/v1/names?limit="+bad, "", http.StatusBadRequest, "bad_limit")
	}
	a.expect("GET", "/v1/names?limit=10000", "", http.StatusOK, "")
}
