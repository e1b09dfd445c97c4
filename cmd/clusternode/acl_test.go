package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// Secrets of the test ACL file.
const (
	billingSecret  = "billing-secret-0123456789"
	otherSecret    = "other-secret-0123456789ab"
	readerSecret   = "reader-secret-0123456789a"
	operatorSecret = "operator-secret-012345678"
)

const testACLFile = `{
  "tokens": [
    {"id": "billing", "secret": "` + billingSecret + `", "policy": "write", "names": ["billing/"], "groups": ["billing/"]},
    {"id": "other",   "secret": "` + otherSecret + `", "policy": "write", "names": [""], "groups": ["*"]},
    {"id": "reader",  "secret_sha256": "SHA", "policy": "read", "names": ["billing/"]},
    {"id": "ops",     "secret": "` + operatorSecret + `", "policy": "operator"}
  ]
}`

// testACLs writes testACLFile (extra replaces its last line when not
// empty) and loads it.
func testACLs(t testing.TB) *acls {
	t.Helper()
	body := strings.Replace(testACLFile, "SHA", sha256Hex(readerSecret), 1)
	path := filepath.Join(t.TempDir(), "acl.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := loadACLs(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newACLTestAPI(t *testing.T) *testAPI {
	t.Helper()
	acl := testACLs(t)
	return newTestAPIWith(t, func(s *apiServer) { s.acl = acl })
}

// as returns a client of the same server that sends secret as its token.
func (a *testAPI) as(secret string) *testAPI {
	b := *a
	b.hdr = http.Header{}
	for k, v := range a.hdr {
		b.hdr[k] = v
	}
	if secret != "" {
		b.hdr.Set("Authorization", "Bearer "+secret)
	}
	return &b
}

func TestACLNoTokenIs401(t *testing.T) {
	a := newACLTestAPI(t)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/status", ""},
		{"POST", "/v1/processes", ""},
		{"GET", "/v1/names", ""},
		{"GET", "/v1/names/billing%2Fx", ""},
		{"GET", "/v1/watch", ""},
		{"GET", "/metrics", ""},
		{"POST", "/v1/names/billing%2Fx/messages", `{}`},
	} {
		st, hdr, out := a.do(c.method, c.path, c.body)
		if st != http.StatusUnauthorized || out["code"] != "token_required" {
			t.Errorf("%s %s without a token: %d %v, want 401 token_required", c.method, c.path, st, out)
		}
		if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: WWW-Authenticate %q", c.method, c.path, hdr.Get("WWW-Authenticate"))
		}
	}
	// Health is open to anonymous by default (container health checks).
	a.expect("GET", "/v1/health", "", http.StatusOK, "")
	// A wrong or malformed token is 401 too, never a fall back to anonymous.
	a.as("wrong-secret-0123456789").expect("GET", "/v1/health", "", http.StatusUnauthorized, "invalid_token")
	b := a.as("")
	b.hdr.Set("Authorization", "Basic Zm9vOmJhcg==")
	b.expect("GET", "/v1/status", "", http.StatusUnauthorized, "invalid_token")
	// X-Roster-Token is the other way to present one.
	c := a.as("")
	c.hdr.Set("X-Roster-Token", operatorSecret)
	c.expect("GET", "/v1/status", "", http.StatusOK, "")
}

func TestACLScopes(t *testing.T) {
	a := newACLTestAPI(t)
	billing, reader := a.as(billingSecret), a.as(readerSecret)
	pid := billing.spawn("")
	billing.expect("PUT", "/v1/names/billing%2Finvoices", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	billing.expect("PUT", "/v1/names/payroll", `{"pid":"`+pid+`"}`, http.StatusForbidden, "permission_denied")
	billing.expect("POST", "/v1/names/billing%2Finvoices/messages", `{"n":1}`, http.StatusAccepted, "")
	billing.expect("POST", "/v1/names/payroll/messages", `{"n":1}`, http.StatusForbidden, "permission_denied")
	billing.expect("PUT", "/v1/local/names/billing%2Fl", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	billing.expect("PUT", "/v1/local/names/other", `{"pid":"`+pid+`"}`, http.StatusForbidden, "permission_denied")
	billing.expect("PUT", "/v1/local/groups/billing%2Fg", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	billing.expect("PUT", "/v1/local/groups/g", `{"pid":"`+pid+`"}`, http.StatusForbidden, "permission_denied")
	billing.expect("POST", "/v1/local/groups/g/messages", `1`, http.StatusForbidden, "permission_denied")
	// Lists and watches: the prefix must lie inside the token's scope.
	billing.expect("GET", "/v1/names?prefix=billing/", "", http.StatusOK, "")
	billing.expect("GET", "/v1/names?prefix=bill", "", http.StatusForbidden, "permission_denied")
	billing.expect("GET", "/v1/names", "", http.StatusForbidden, "permission_denied")
	billing.expect("GET", "/v1/watch?prefix=pay", "", http.StatusForbidden, "permission_denied")
	// A read token reads in its scope and writes nothing.
	reader.expect("GET", "/v1/names/billing%2Finvoices", "", http.StatusOK, "")
	reader.expect("GET", "/v1/names/payroll", "", http.StatusForbidden, "permission_denied")
	reader.expect("POST", "/v1/processes", "", http.StatusForbidden, "permission_denied")
	reader.expect("POST", "/v1/names/billing%2Finvoices/messages", `1`, http.StatusForbidden, "permission_denied")
	reader.expect("GET", "/v1/status", "", http.StatusOK, "")
}

func TestACLProcessOwnership(t *testing.T) {
	a := newACLTestAPI(t)
	billing, other, ops := a.as(billingSecret), a.as(otherSecret), a.as(operatorSecret)
	mine := billing.spawn("")
	theirs := other.spawn("")
	billing.expect("PUT", "/v1/names/billing%2Fa", `{"pid":"`+mine+`"}`, http.StatusCreated, "")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/processes/" + mine + "/messages", ""},
		{"PUT", "/v1/processes/" + mine + "/renew", ""},
		{"DELETE", "/v1/processes/" + mine, ""},
		{"DELETE", "/v1/names/billing%2Fa?pid=" + mine, ""},
		// Binding a name to somebody else's process is refused too.
		{"PUT", "/v1/names/taken", `{"pid":"` + mine + `"}`},
		{"PUT", "/v1/local/groups/x", `{"pid":"` + mine + `"}`},
	} {
		other.expect(c.method, c.path, c.body, http.StatusForbidden, "not_process_owner")
	}
	// Anyone with write may send to a pid (as in Erlang); the owner reads it.
	other.expect("POST", "/v1/processes/"+mine+"/messages", `"hi"`, http.StatusAccepted, "")
	out := billing.expect("GET", "/v1/processes/"+mine+"/messages", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("owner got %v", out)
	}
	// The operator may do everything.
	ops.expect("PUT", "/v1/processes/"+theirs+"/renew", "", http.StatusOK, "")
	ops.expect("DELETE", "/v1/names/billing%2Fa?pid="+mine, "", http.StatusNoContent, "")
	ops.expect("DELETE", "/v1/processes/"+theirs, "", http.StatusNoContent, "")
	// A dead pid is the same 404 as without ACLs.
	other.expect("DELETE", "/v1/processes/"+theirs, "", http.StatusNotFound, "noproc")
	billing.expect("DELETE", "/v1/processes/"+mine, "", http.StatusNoContent, "")
}

func TestACLOffIsUnrestricted(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	a.expect("PUT", "/v1/names/anything", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	if st, _, _ := a.rawDo("GET", "/metrics", ""); st != http.StatusOK {
		t.Fatalf("GET /metrics: %d", st)
	}
}

func TestACLAnonymousPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.json")
	os.WriteFile(path, []byte(`{"anonymous": {"health": false, "metrics": true, "policy": "read", "names": ["pub/"]}}`), 0o600)
	acl, err := loadACLs(path, operatorSecret)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPIWith(t, func(s *apiServer) { s.acl = acl })
	a.expect("GET", "/v1/health", "", http.StatusUnauthorized, "token_required")
	if st, _, _ := a.rawDo("GET", "/metrics", ""); st != http.StatusOK {
		t.Fatalf("anonymous GET /metrics: %d", st)
	}
	a.expect("GET", "/v1/names?prefix=pub/", "", http.StatusOK, "")
	a.expect("GET", "/v1/names?prefix=priv/", "", http.StatusUnauthorized, "token_required")
	a.expect("POST", "/v1/processes", "", http.StatusUnauthorized, "token_required")
	// The environment's operator token.
	a.as(operatorSecret).expect("POST", "/v1/processes", "", http.StatusCreated, "")
}

func TestACLFileErrors(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"unknown field", `{"tokens":[{"id":"a","secret":"` + billingSecret + `","policy":"write","scope":1}]}`, "unknown field"},
		{"short secret", `{"tokens":[{"id":"a","secret":"short","policy":"write"}]}`, "at least 16"},
		{"no secret", `{"tokens":[{"id":"a","policy":"write"}]}`, "no secret"},
		{"bad policy", `{"tokens":[{"id":"a","secret":"` + billingSecret + `","policy":"admin"}]}`, "want read, write or operator"},
		{"dup id", `{"tokens":[{"id":"a","secret":"` + billingSecret + `","policy":"read"},{"id":"a","secret":"` + otherSecret + `","policy":"read"}]}`, "used twice"},
		{"dup secret", `{"tokens":[{"id":"a","secret":"` + billingSecret + `","policy":"read"},{"id":"b","secret":"` + billingSecret + `","policy":"read"}]}`, "same secret"},
		{"bad hash", `{"tokens":[{"id":"a","secret_sha256":"abc","policy":"read"}]}`, "64 hex"},
		{"reserved id", `{"tokens":[{"id":"anonymous","secret":"` + billingSecret + `","policy":"read"}]}`, "other than"},
		{"operator anonymous", `{"anonymous":{"policy":"operator"}}`, "not allowed"},
	} {
		path := filepath.Join(t.TempDir(), "acl.json")
		os.WriteFile(path, []byte(c.body), 0o600)
		_, err := loadACLs(path, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if a, err := loadACLs("", ""); a != nil || err != nil {
		t.Errorf("no file, no env: %v %v, want ACLs off", a, err)
	}
}

// TestEveryRouteDeclaresACL: the mechanism that keeps a new route from
// forgetting its rule. Every registered endpoint has one, and an endpoint
// without one is refused (even with ACLs off).
func TestEveryRouteDeclaresACL(t *testing.T) {
	a := newTestAPI(t)
	for _, rt := range a.api.routes() {
		for m, ep := range rt.methods {
			if !ep.acl.declared() {
				t.Errorf("%s %s declares no ACL rule", m, rt.path)
			}
		}
	}
	h := a.api.guard(aclRule{}, func(w http.ResponseWriter, r *http.Request) { t.Error("undeclared endpoint ran") })
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/v1/new", nil))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "acl_undeclared") {
		t.Fatalf("undeclared endpoint answered %d %s", rec.Code, rec.Body)
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestCLISendsToken: the CLI presents ROSTER_TOKEN (until the api client
// package carries it) and sends JSON content types, so it works against an
// agent with ACLs.
func TestCLISendsToken(t *testing.T) {
	a := newACLTestAPI(t)
	run := func(token string, args ...string) error {
		var out strings.Builder
		env := envMap(map[string]string{"CLUSTERNODE_HTTP_ADDR": a.base, "ROSTER_TOKEN": token})
		return runCLI(context.Background(), args[0], cliCommands[args[0]], args[1:], &out, &out, env)
	}
	if err := run("", "status"); err == nil || !strings.Contains(err.Error(), "token_required") {
		t.Fatalf("status without a token: %v", err)
	}
	if err := run(operatorSecret, "status"); err != nil {
		t.Fatalf("status with the operator token: %v", err)
	}
	if err := run(billingSecret, "names", "-prefix", "payroll/"); err == nil || !strings.Contains(err.Error(), "permission_denied") {
		t.Fatalf("names outside the token's scope: %v", err)
	}
}

func TestPublicRule(t *testing.T) {
	a := newACLTestAPI(t)
	h := a.api.guard(publicRule(), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/ui/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("public endpoint without a token: %d %s", rec.Code, rec.Body)
	}
}

func TestSecretFileModeWarning(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o644)
	cfg, err := parseAgentConfig([]string{"-dev", "-encrypt-file", key}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	warnSecurity(cfg, hclog.New(&hclog.LoggerOptions{Output: &out}))
	if !strings.Contains(out.String(), "readable by other users") {
		t.Fatalf("no warning for a 0644 key file: %s", out.String())
	}
}
