package main

import (
	"net/http"
	"testing"
)

// TestTokenSelf: the caller learns its own policy, whatever it is; an
// unknown token is refused; without ACLs everyone is an operator.
func TestTokenSelf(t *testing.T) {
	a := newACLTestAPI(t)
	for _, c := range []struct {
		secret, id, policy string
		anonymous          bool
		names              int
	}{
		{"", "", "none", true, 0},
		{readerSecret, "reader", "read", false, 1},
		{billingSecret, "billing", "write", false, 1},
		{operatorSecret, "ops", "operator", false, 1},
	} {
		out := a.as(c.secret).expect("GET", "/v1/acl/token/self", "", http.StatusOK, "")
		names, _ := out["names"].([]any)
		if out["acls"] != true || out["policy"] != c.policy || out["anonymous"] != c.anonymous || len(names) != c.names || (c.id != "" && out["id"] != c.id) {
			t.Errorf("token %q: %v", c.secret, out)
		}
	}
	a.as("nobody-knows-this-token-0").expect("GET", "/v1/acl/token/self", "", http.StatusUnauthorized, "invalid_token")

	open := newTestAPI(t)
	if out := open.expect("GET", "/v1/acl/token/self", "", http.StatusOK, ""); out["acls"] != false || out["policy"] != "operator" {
		t.Errorf("without ACLs: %v", out)
	}
}

// TestLiveWithoutLeader: /v1/health/live answers 200 when /v1/health does
// not (no leader), and is open to the anonymous caller as health is.
func TestLiveWithoutLeader(t *testing.T) {
	a := newACLTestAPI(t)
	a.fake.setHealth(errUnavailable)
	a.expect("GET", "/v1/health", "", http.StatusServiceUnavailable, "unhealthy")
	if out := a.expect("GET", "/v1/health/live", "", http.StatusOK, ""); out["status"] != "alive" || out["node"] == "" {
		t.Errorf("live: %v", out)
	}
}
