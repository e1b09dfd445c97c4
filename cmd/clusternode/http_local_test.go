package main

import (
	"net/http"
	"testing"
)

func TestLocalNames(t *testing.T) {
	a := newTestAPI(t)
	p1, p2 := a.spawn(""), a.spawn("")
	a.expect("PUT", "/v1/local/names/cache", `{"pid":"`+p1+`"}`, http.StatusCreated, "")
	out := a.expect("PUT", "/v1/local/names/cache", `{"pid":"`+p2+`"}`, http.StatusConflict, "name_taken")
	if out["owner"].(map[string]any)["pid"] != p1 {
		t.Fatalf("409 owner %v", out)
	}
	out = a.expect("GET", "/v1/local/names/cache", "", http.StatusOK, "")
	if out["pid"] != p1 || out["key"] != "cache" {
		t.Fatalf("lookup %v", out)
	}
	a.expect("DELETE", "/v1/local/names/cache?pid="+p2, "", http.StatusConflict, "not_owner")
	a.expect("DELETE", "/v1/local/names/cache?pid="+p1, "", http.StatusNoContent, "")
	a.expect("GET", "/v1/local/names/cache", "", http.StatusNotFound, "not_found")
	a.expect("PUT", "/v1/local/names/cache", `{"pid":"n1.7.99"}`, http.StatusNotFound, "noproc")
	a.expect("PUT", "/v1/local/names/cache", `{"pid":1}`, http.StatusBadRequest, "bad_json")
	a.expect("POST", "/v1/local/names/cache", `{}`, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestLocalGroups(t *testing.T) {
	a := newTestAPI(t)
	p1, p2 := a.spawn(""), a.spawn("")
	for _, p := range []string{p1, p2} {
		a.expect("PUT", "/v1/local/groups/workers", `{"pid":"`+p+`"}`, http.StatusCreated, "")
	}
	out := a.expect("GET", "/v1/local/groups/workers", "", http.StatusOK, "")
	if m := out["members"].([]any); len(m) != 2 || m[0] != p1 || m[1] != p2 {
		t.Fatalf("members %v", m)
	}
	out = a.expect("POST", "/v1/local/groups/workers/messages", `{"task":"t1"}`, http.StatusAccepted, "")
	if out["sent"] != float64(2) {
		t.Fatalf("broadcast %v", out)
	}
	for _, p := range []string{p1, p2} {
		out = a.expect("GET", "/v1/processes/"+p+"/messages?wait=5s", "", http.StatusOK, "")
		if msgs := out["messages"].([]any); len(msgs) != 1 {
			t.Fatalf("%s got %v", p, msgs)
		}
	}
	a.expect("DELETE", "/v1/local/groups/workers?pid="+p1, "", http.StatusNoContent, "")
	a.expect("DELETE", "/v1/local/groups/workers?pid="+p1, "", http.StatusNotFound, "not_found")
	out = a.expect("GET", "/v1/local/groups/workers", "", http.StatusOK, "")
	if m := out["members"].([]any); len(m) != 1 || m[0] != p2 {
		t.Fatalf("members after leave %v", m)
	}
	out = a.expect("GET", "/v1/local/groups/empty", "", http.StatusOK, "")
	if m := out["members"].([]any); len(m) != 0 {
		t.Fatalf("empty group %v", m)
	}
	a.expect("POST", "/v1/local/groups/workers/messages", `nope`, http.StatusBadRequest, "bad_json")
}
