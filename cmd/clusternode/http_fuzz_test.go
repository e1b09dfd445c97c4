package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/transport"
)

// The fuzz targets drive the whole handler (browser checks, ACL guard,
// mux, handlers) over the fake backend, in process. Their seeds run in
// every `go test`; `go test -fuzz=FuzzAPIRequest ./cmd/clusternode` explores.

// fuzzAPI is one API server shared by a fuzz target's inputs, with one
// live client process (seeds name it as PID).
type fuzzAPI struct {
	a   *testAPI
	h   http.Handler
	pid string
}

func newFuzzAPI(f *testing.F, acl *acls) *fuzzAPI {
	f.Helper()
	// Quiet: a fuzz target must not log through f.
	a := newTestAPIWith(f, func(s *apiServer) { s.acl, s.log = acl, hclog.NewNullLogger() })
	if acl != nil {
		a = a.as(operatorSecret)
	}
	return &fuzzAPI{a: a, h: a.api.handler(), pid: a.spawn("24h")}
}

// serve runs one request in process and returns the recorder.
func (fa *fuzzAPI) serve(method, target string, body []byte, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1/", bytes.NewReader(body))
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	req.URL = u
	req.RequestURI = target
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	fa.h.ServeHTTP(rec, req)
	return rec
}

// checkAnswer is the invariant of every answer: no 5xx, and an error is a
// JSON {"error","code"} with both set.
func checkAnswer(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	// 501 not_implemented is the fake backend's deliberate answer for
	// cluster groups (it has none); every other 5xx is a bug.
	notImpl := rec.Code == http.StatusNotImplemented && strings.Contains(rec.Body.String(), `"not_implemented"`)
	if rec.Code >= 500 && !notImpl {
		t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var e struct{ Error, Code string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Error == "" {
			t.Fatalf("%s %s: %d with a body that is not a JSON error: %q (%v)", method, target, rec.Code, rec.Body, err)
		}
	}
}

var fuzzMethods = []string{"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"}

func FuzzAPIRequest(f *testing.F) {
	fa := newFuzzAPI(f, nil)
	for _, s := range []struct {
		m          uint8
		path, body string
	}{
		{2, "/v1/processes", `{"ttl":"1s"}`}, {2, "/v1/processes", `{"ttl":"-1s"}`}, {2, "/v1/processes", `{"ttl":5}`},
		{1, "/v1/processes/PID/renew", `{"ttl":"2m"}`}, {3, "/v1/processes/n1.7.999", ``}, {3, "/v1/processes/x.y.z", ``},
		{2, "/v1/processes/PID/messages", `{"a":[1,2,{"b":null}]}`}, {2, "/v1/processes/PID/messages", `{"a":`},
		{0, "/v1/processes/PID/messages?max=0", ``}, {0, "/v1/processes/PID/messages?max=5&wait=1s", ``},
		{1, "/v1/names/a%2Fb", `{"pid":"PID","meta":{"v":1}}`}, {1, "/v1/names/x", `{"pid":"PID","extra":1}`},
		{1, "/v1/names/%FF", `{"pid":"PID"}`}, {0, "/v1/names?prefix=a&consistent=1", ``}, {0, "/v1/names/a?consistent=x", ``},
		{3, "/v1/names/a%2Fb?pid=PID", ``}, {3, "/v1/names/a?pid=", ``}, {2, "/v1/names/a%2Fb/messages", `"hi"`},
		{1, "/v1/local/names/k", `{"pid":"PID"}`}, {0, "/v1/local/names/k", ``}, {3, "/v1/local/names/k?pid=PID", ``},
		{1, "/v1/local/groups/g", `{"pid":"PID"}`}, {0, "/v1/local/groups/g", ``}, {2, "/v1/local/groups/g/messages", `[1]`},
		{3, "/v1/local/groups/g?pid=n2.1.1", ``}, {0, "/v1/status", ``}, {0, "/v1/health", ``}, {5, "/v1/names", `{}`},
		{0, "/nope", ``}, {6, "/v1/names", ``}, {1, "/v1/names/" + strings.Repeat("n", 300), `{"pid":"PID"}`},
		{0, "/v1/names?limit=2&after=a", ``}, {0, "/v1/names?limit=100000", ``},
		{1, "/v1/groups/g/members", `{"pid":"PID","meta":{"a":1}}`}, {3, "/v1/groups/g/members?pid=PID", ``},
		{3, "/v1/groups/g/members", `{"pid":"PID"}`}, {0, "/v1/groups?prefix=g&limit=5", ``}, {0, "/v1/groups/g?limit=2", ``},
		{2, "/v1/groups/g/messages", `1`}, {2, "/v1/groups/g/call", `{"q":1}`}, {0, "/v1/health/live", ``},
		{0, "/v1/acl/token/self", ``},
	} {
		f.Add(s.m, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, m uint8, target string, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		target = strings.ReplaceAll(target, "PID", fa.pid)
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/v1/watch") || strings.HasPrefix(target, "/metrics") ||
			strings.HasPrefix(target, "/v1/groups/watch") {
			return // watch streams are fuzzed through their cursor; /metrics is not ours to decode
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		q := u.Query()
		q.Del("wait") // a long-poll must not stall the fuzzer
		if strings.Contains(u.Path, "/call") {
			q.Set("timeout", "1ms") // nor a group call waiting for replies
		}
		u.RawQuery = q.Encode()
		target = u.RequestURI()
		// Keep the shared process alive: no DELETE of it, no renewal to a short TTL.
		if strings.Contains(target, fa.pid) && (method == "DELETE" && !strings.Contains(target, "?") || strings.Contains(target, "/renew")) {
			return
		}
		rec := fa.serve(method, target, body, nil)
		if rec == nil {
			return
		}
		checkAnswer(t, method, target, rec)
	})
}

// FuzzRegisterRoundTrip: a name and meta that register read back the
// same; ones that do not get a 4xx JSON error, and the name is then not
// in the table.
func FuzzRegisterRoundTrip(f *testing.F) {
	fa := newFuzzAPI(f, nil)
	for _, s := range []struct{ name, meta string }{
		{"svc.db", `{"v":2}`}, {"a/b c", `[1,"x",null]`}, {"ünï", `"s"`}, {"x", `{`}, {"", `1`}, {"\xff", `1`}, {"n", ``},
	} {
		f.Add(s.name, []byte(s.meta))
	}
	f.Fuzz(func(t *testing.T, name string, meta []byte) {
		if name == "/" {
			// net/http's router reads a path segment that unescapes to "/"
			// as a trailing slash: the name "/" alone has no URL (README).
			return
		}
		target := "/v1/names/" + pathEscapeName(name)
		body, _ := json.Marshal(map[string]any{"pid": fa.pid})
		if len(meta) > 0 {
			body = []byte(fmt.Sprintf(`{"pid":%q,"meta":%s}`, fa.pid, meta))
		}
		rec := fa.serve("PUT", target, body, nil)
		if rec.Code == http.StatusCreated {
			defer fa.serve("DELETE", target+"?pid="+fa.pid, nil, nil)
		}
		checkAnswer(t, "PUT", target, rec)
		valid := name != "" && len(name) <= maxNameLen && utf8.ValidString(name) && (len(meta) == 0 || json.Valid(meta))
		if (rec.Code == http.StatusCreated) != valid {
			t.Fatalf("PUT %q meta %q: %d %s (valid input: %v)", name, meta, rec.Code, rec.Body, valid)
		}
		if !valid {
			return
		}
		got := fa.serve("GET", target, nil, nil)
		var reg struct {
			Name string          `json:"name"`
			PID  string          `json:"pid"`
			Meta json.RawMessage `json:"meta"`
		}
		if got.Code != http.StatusOK || json.Unmarshal(got.Body.Bytes(), &reg) != nil {
			t.Fatalf("GET %q after register: %d %s", name, got.Code, got.Body)
		}
		if reg.Name != name || reg.PID != fa.pid || !jsonEqual(t, reg.Meta, meta) {
			t.Fatalf("round trip: got %+v, want name %q pid %s meta %s", reg, name, fa.pid, meta)
		}
	})
}

// FuzzSendRoundTrip: a body that is one JSON value arrives as that value;
// anything else is 400 bad_json and delivers nothing.
func FuzzSendRoundTrip(f *testing.F) {
	fa := newFuzzAPI(f, nil)
	for _, s := range []string{`{"a":1}`, `[1,2.5,"x",true,null]`, `"str"`, `12e3`, ``, ` `, `{`, `1 2`, "\"\xff\"", `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		target := "/v1/processes/" + fa.pid + "/messages"
		rec := fa.serve("POST", target, body, nil)
		checkAnswer(t, "POST", target, rec)
		valid := json.Valid(body)
		if (rec.Code == http.StatusAccepted) != valid {
			t.Fatalf("send %q: %d %s (valid JSON: %v)", body, rec.Code, rec.Body, valid)
		}
		got := fa.serve("GET", target+"?max=1000", nil, nil)
		var out struct {
			Messages []struct {
				Body json.RawMessage `json:"body"`
			} `json:"messages"`
		}
		if got.Code != http.StatusOK || json.Unmarshal(got.Body.Bytes(), &out) != nil {
			t.Fatalf("poll: %d %s", got.Code, got.Body)
		}
		if !valid {
			if len(out.Messages) != 0 {
				t.Fatalf("invalid body %q delivered %v", body, out.Messages)
			}
			return
		}
		if len(out.Messages) != 1 || !jsonEqual(t, out.Messages[0].Body, body) {
			t.Fatalf("sent %s, received %+v", body, out.Messages)
		}
	})
}

// FuzzWatchCursor: ?index= parses or is a 400; a parsed cursor prints back
// to an id that parses to the same cursor.
func FuzzWatchCursor(f *testing.F) {
	for _, s := range []string{"", "0", "42", "42.1", "42.", ".1", "-1", "1.-1", "18446744073709551615.0", "1.2.3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/v1/watch?index="+url.QueryEscape(v), nil)
		c, err := watchCursorOf(req)
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) || br.code != "bad_param" {
				t.Fatalf("index=%q: error %v is not a bad_param", v, err)
			}
			return
		}
		if v == "" {
			return
		}
		id := fmt.Sprint(c.index)
		if c.n >= 0 {
			id += "." + fmt.Sprint(c.n)
		}
		back, err := watchCursorOf(httptest.NewRequest("GET", "/v1/watch?index="+id, nil))
		if err != nil || back != c {
			t.Fatalf("index=%q parsed to %+v, printed %q, reparsed to %+v (%v)", v, c, id, back, err)
		}
	})
}

// FuzzACLFile: any file either loads or is an error (never a panic), and a
// loaded file's plain secrets identify their tokens.
func FuzzACLFile(f *testing.F) {
	f.Add([]byte(strings.Replace(testACLFile, "SHA", sha256Hex(readerSecret), 1)))
	f.Add([]byte(`{"anonymous":{"policy":"read","names":["a"]},"tokens":[]}`))
	f.Add([]byte(`{"tokens":[{"id":"x","secret":"0123456789abcdef","policy":"write","names":null}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a := &acls{anonymous: aclIdentity{ID: anonymousID, Anonymous: true}}
		if a.parse(raw) != nil {
			return
		}
		var file aclFile
		_ = json.Unmarshal(raw, &file)
		for _, tok := range file.Tokens {
			if tok.Secret == "" {
				continue
			}
			id, err := a.identify(tok.Secret)
			if err != nil || id.ID != tok.ID {
				t.Fatalf("secret of %q identifies %q (%v)", tok.ID, id.ID, err)
			}
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	if len(bytes.TrimSpace(a)) == 0 || len(bytes.TrimSpace(b)) == 0 {
		return len(bytes.TrimSpace(a)) == len(bytes.TrimSpace(b)) || string(bytes.TrimSpace(a)) == "null" || string(bytes.TrimSpace(b)) == "null"
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// pathEscapeName escapes a name for a path segment. A name that is "." or
// ".." is sent as %2E...: net/http would clean it away otherwise (README).
func pathEscapeName(name string) string {
	if name == "." || name == ".." {
		return strings.ReplaceAll(name, ".", "%2E")
	}
	return url.PathEscape(name)
}

// FuzzACLScope: whatever a billing/-scoped write token sends, no name or
// group outside billing/ comes to exist, and a process of another token is
// never stopped; every answer is still a 2xx-4xx with JSON errors.
func FuzzACLScope(f *testing.F) {
	fa := newFuzzAPI(f, testACLs(f))
	other := fa.serve("POST", "/v1/processes", []byte(`{"ttl":"24h"}`), http.Header{"Authorization": {"Bearer " + otherSecret}})
	var o struct{ PID string }
	if err := json.Unmarshal(other.Body.Bytes(), &o); err != nil || other.Code != http.StatusCreated {
		f.Fatalf("spawn as other: %d %s", other.Code, other.Body)
	}
	billing := http.Header{"Authorization": {"Bearer " + billingSecret}}
	mine := fa.serve("POST", "/v1/processes", []byte(`{"ttl":"24h"}`), billing)
	var m struct{ PID string }
	if err := json.Unmarshal(mine.Body.Bytes(), &m); err != nil || mine.Code != http.StatusCreated {
		f.Fatalf("spawn as billing: %d %s", mine.Code, mine.Body)
	}
	for _, s := range []struct {
		m          uint8
		path, body string
	}{
		{1, "/v1/names/billing%2Fa", `{"pid":"MINE"}`}, {1, "/v1/names/payroll", `{"pid":"MINE"}`},
		{1, "/v1/names/billing%2Fb", `{"pid":"OTHER"}`}, {1, "/v1/local/names/x", `{"pid":"MINE"}`},
		{1, "/v1/local/groups/billing%2Fg", `{"pid":"MINE"}`}, {1, "/v1/local/groups/g", `{"pid":"MINE"}`},
		{3, "/v1/processes/OTHER", ``}, {1, "/v1/processes/OTHER/renew", `{"ttl":"100ms"}`},
		{0, "/v1/processes/OTHER/messages", ``}, {2, "/v1/names/payroll/messages", `1`},
	} {
		f.Add(s.m, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, mi uint8, target string, body []byte) {
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		target = strings.ReplaceAll(strings.ReplaceAll(target, "OTHER", o.PID), "MINE", m.PID)
		body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("OTHER"), []byte(o.PID)), []byte("MINE"), []byte(m.PID))
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/v1/watch") || strings.HasPrefix(target, "/metrics") || strings.HasPrefix(target, "/ui") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		q := u.Query()
		q.Del("wait")
		u.RawQuery = q.Encode()
		target = u.RequestURI()
		rec := fa.serve(method, target, body, billing)
		if rec == nil {
			return
		}
		checkAnswer(t, method, target, rec)
		fake := fa.a.fake
		fake.mu.Lock()
		defer fake.mu.Unlock()
		for name := range fake.global {
			if !strings.HasPrefix(name, "billing/") {
				t.Fatalf("%s %s %q: global name %q outside billing/ exists", method, target, body, name)
			}
		}
		for name := range fake.local {
			if !strings.HasPrefix(name, "billing/") {
				t.Fatalf("%s %s %q: local name %q outside billing/ exists", method, target, body, name)
			}
		}
		for key, members := range fake.groups {
			if len(members) > 0 && !strings.HasPrefix(key, "billing/") {
				t.Fatalf("%s %s %q: group %q outside billing/ has members", method, target, body, key)
			}
		}
		if fake.procs[mustParsePID(t, o.PID)] == nil {
			t.Fatalf("%s %s %q: the other token's process was stopped", method, target, body)
		}
	})
}

func mustParsePID(t *testing.T, s string) transport.PID {
	pid, err := transport.ParsePID(s)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
