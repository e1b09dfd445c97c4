package api

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeAgent answers like the agent's HTTP API for the few paths a test
// sets, and records what the client sent.
type fakeAgent struct {
	t        *testing.T
	handlers map[string]http.HandlerFunc // "METHOD /path"
	last     *http.Request
	lastBody string
}

func newFake(t *testing.T) (*fakeAgent, *Client) {
	f := &fakeAgent{t: t, handlers: map[string]http.HandlerFunc{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := NewClient(&Config{Address: srv.URL, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.last, f.lastBody = r, string(b)
	h := f.handlers[r.Method+" "+r.URL.Path]
	if h == nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no such endpoint: %s","code":"not_found"}`, r.URL.Path)
		return
	}
	h(w, r)
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestRegisterSendsTokenAndJSON(t *testing.T) {
	f, c := newFake(t)
	f.handlers["PUT /v1/names/a b/c"] = answer(201, `{"name":"a b/c","pid":"n1.7.3","node":"n1","fence":12}`)
	reg, err := c.Names().Register(context.Background(), "a b/c", "n1.7.3", map[string]int{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	if reg.PID != "n1.7.3" || reg.Fence != 12 || reg.Node != "n1" {
		t.Errorf("registration %+v", reg)
	}
	if got := f.last.Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization %q", got)
	}
	if got := f.last.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if f.last.URL.EscapedPath() != "/v1/names/a%20b%2Fc" {
		t.Errorf("path %q: the name must be one escaped segment", f.last.URL.EscapedPath())
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.lastBody), &body); err != nil || body["pid"] != "n1.7.3" {
		t.Errorf("body %s (%v)", f.lastBody, err)
	}
}

func TestErrorsCarryCodeAndOwner(t *testing.T) {
	f, c := newFake(t)
	f.handlers["PUT /v1/names/x"] = answer(409, `{"error":"taken","code":"name_taken","owner":{"name":"x","pid":"n2.1.9","node":"n2","fence":4}}`)
	f.handlers["GET /v1/names/x"] = answer(404, `{"error":"unknown","code":"not_found"}`)
	f.handlers["GET /v1/health"] = answer(503, `{"error":"no leader","code":"unhealthy"}`)
	f.handlers["GET /v1/status"] = answer(403, `{"error":"no","code":"some_future_code"}`)
	f.handlers["DELETE /v1/names/x"] = answer(400, `{"error":"bad","code":"invalid_name"}`)
	f.handlers["POST /v1/processes"] = answer(502, `<html>bad gateway</html>`)
	ctx := context.Background()

	_, err := c.Names().Register(ctx, "x", "n1.1.1", nil)
	var e *Error
	if !errors.Is(err, ErrNameTaken) || !errors.As(err, &e) || e.Owner == nil || e.Owner.PID != "n2.1.9" || e.StatusCode != 409 {
		t.Errorf("register: %v (%+v)", err, e)
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("name_taken matches ErrNotFound")
	}
	if _, err := c.Names().Lookup(ctx, "x", ReadOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup: %v", err)
	}
	if _, err := c.Health(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("health: %v", err)
	}
	if _, err := c.Status(ctx); !errors.Is(err, ErrForbidden) || !errors.As(err, &e) || e.Code != "some_future_code" {
		t.Errorf("unknown code must match by status: %v", err)
	}
	if err := c.Names().Unregister(ctx, "x", "n1.1.1"); !errors.Is(err, ErrInvalidName) || !errors.Is(err, ErrBadRequest) {
		t.Errorf("unregister: %v", err)
	}
	if f.last.URL.Query().Get("pid") != "n1.1.1" {
		t.Errorf("unregister query %q", f.last.URL.RawQuery)
	}
	if _, err := c.Processes().Spawn(ctx, time.Second); !errors.As(err, &e) || e.Code != "http" || !strings.Contains(e.Message, "bad gateway") {
		t.Errorf("non-JSON error: %v", err)
	}
}

func TestListAllFollowsCursor(t *testing.T) {
	f, c := newFake(t)
	var seen []string
	f.handlers["GET /v1/names"] = func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		seen = append(seen, q.Get("after"))
		if q.Get("limit") != "2" || q.Get("prefix") != "p/" {
			t.Errorf("query %q", r.URL.RawQuery)
		}
		switch q.Get("after") {
		case "":
			answer(200, `{"names":[{"name":"p/a"},{"name":"p/b"}],"next":"p/b"}`)(w, r)
		case "p/b":
			answer(200, `{"names":[{"name":"p/c"}]}`)(w, r)
		default:
			t.Errorf("unexpected cursor %q", q.Get("after"))
		}
	}
	all, err := c.Names().ListAll(context.Background(), ListOptions{Prefix: "p/", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[2].Name != "p/c" || strings.Join(seen, ",") != ",p/b" {
		t.Errorf("names %v, cursors %q", all, seen)
	}
}

func TestReceiveAndSend(t *testing.T) {
	f, c := newFake(t)
	f.handlers["GET /v1/processes/n1.2.3/messages"] = answer(200, `{"messages":[{"from":"n2.1.1","body":{"hi":1}},{"body":"x"}]}`)
	f.handlers["POST /v1/processes/n1.2.3/messages"] = answer(202, `{"pid":"n1.2.3"}`)
	ctx := context.Background()
	msgs, err := c.Processes().Receive(ctx, "n1.2.3", ReceiveOptions{Wait: 2 * time.Second, Max: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].From != "n2.1.1" || string(msgs[0].Body) != `{"hi":1}` {
		t.Errorf("messages %+v", msgs)
	}
	if q := f.last.URL.Query(); q.Get("wait") != "2s" || q.Get("max") != "5" {
		t.Errorf("query %q", f.last.URL.RawQuery)
	}
	if err := c.Processes().Send(ctx, "n1.2.3", json.RawMessage(`"raw"`)); err != nil || f.lastBody != `"raw"` {
		t.Errorf("send: %v, body %q", err, f.lastBody)
	}
	if err := c.Processes().Send(ctx, "n1.2.3", json.RawMessage(`{bad`)); err == nil {
		t.Error("invalid JSON body sent")
	}
}

func TestWatchParsesEventsAndEnds(t *testing.T) {
	f, c := newFake(t)
	f.handlers["GET /v1/watch"] = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") != "41.0" {
			t.Errorf("query %q", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": watching\n\n")
		io.WriteString(w, "id: 42.0\nevent: registered\ndata: {\"type\":\"registered\",\"name\":\"a\",\"pid\":\"n1.1.1\",\"index\":42}\n\n")
		io.WriteString(w, "id: 42.1\nevent: unregistered\ndata: {\"type\":\"unregistered\",\"name\":\"b\",\"index\":42,\"reason\":\"process_exit\"}\n\n")
		io.WriteString(w, "id: 43.0\nevent: error\ndata: {\"type\":\"\",\"name\":\"\",\"index\":43,\"error\":\"fell behind\"}\n\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.Watch(ctx, WatchOptions{Index: "41.0"})
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	for ev := range ch {
		got = append(got, ev)
	}
	if len(got) != 3 || got[0].ID != "42.0" || got[1].Reason != "process_exit" || got[1].ID != "42.1" || got[2].Err != "fell behind" {
		t.Fatalf("events %+v", got)
	}
}

func TestWatchReportsClosedStream(t *testing.T) {
	f, c := newFake(t)
	f.handlers["GET /v1/watch"] = func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "id: 1.0\ndata: {\"type\":\"registered\",\"name\":\"a\",\"index\":1}\n\n")
	}
	f.handlers["GET /v1/status"] = answer(200, `{}`)
	ch, err := c.Watch(context.Background(), WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	for ev := range ch {
		got = append(got, ev)
	}
	if len(got) != 2 || got[1].Err == "" {
		t.Fatalf("a stream closed without an error event must end with one carrying Err: %+v", got)
	}
	f.handlers["GET /v1/watch"] = answer(410, `{"error":"old","code":"compacted"}`)
	if _, err := c.Watch(context.Background(), WatchOptions{Index: "1"}); !errors.Is(err, ErrCompacted) {
		t.Errorf("watch of a compacted index: %v", err)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(answer(200, `{"status":"ok","node":"n1"}`))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "https://")
	c, err := NewClient(&Config{Address: addr, TLS: TLSConfig{CAFile: ca}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Address(), "https://") {
		t.Errorf("TLS options must imply https: %s", c.Address())
	}
	h, err := c.Health(context.Background())
	if err != nil || h.Node != "n1" {
		t.Fatalf("health over TLS: %+v, %v", h, err)
	}
	plain, _ := NewClient(&Config{Address: srv.URL})
	if _, err := plain.Health(context.Background()); err == nil {
		t.Error("a certificate no CA vouches for was accepted")
	}
}

func TestNewClientRejectsBadAddress(t *testing.T) {
	for _, a := range []string{"ftp://x:1", "http://", "http://h:1/some/path", "::::"} {
		if _, err := NewClient(&Config{Address: a}); err == nil {
			t.Errorf("address %q accepted", a)
		}
	}
	if _, err := NewClient(&Config{Token: "a\nb"}); err == nil {
		t.Error("token with a line break accepted")
	}
}

func TestTokenSelf(t *testing.T) {
	f, c := newFake(t)
	f.handlers["GET /v1/acl/token/self"] = answer(200, `{"acls":true,"id":"ops","anonymous":false,"policy":"operator","names":[""],"groups":[""],"health":true,"metrics":true}`)
	ti, err := c.TokenSelf(context.Background())
	if err != nil || ti.Policy != "operator" || ti.ID != "ops" || !ti.ACLs {
		t.Fatalf("%+v %v", ti, err)
	}
}

func TestGroups(t *testing.T) {
	f, c := newFake(t)
	f.handlers["PUT /v1/groups/g 1/members"] = answer(200, `{"pid":"n1.1.1","node":"n1","meta":{"w":1},"count":1}`)
	f.handlers["GET /v1/groups/g 1"] = answer(200, `{"group":"g 1","members":[{"pid":"n1.1.1","node":"n1","count":1}],"truncated":true}`)
	f.handlers["GET /v1/groups"] = answer(200, `{"groups":[{"name":"g 1","members":3,"local":1}],"next":"g 1"}`)
	f.handlers["POST /v1/groups/g 1/messages"] = answer(200, `{"sent":3}`)
	f.handlers["POST /v1/groups/g 1/call"] = answer(200, `{"replies":[{"pid":"n1.1.1","reply":"pong"},{"pid":"n2.1.1","error":"timeout"}]}`)
	f.handlers["DELETE /v1/groups/g 1/members"] = answer(204, ``)
	f.handlers["GET /v1/groups/watch"] = func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, ": watching groups\n\nevent: join\ndata: {\"type\":\"join\",\"group\":\"g 1\",\"pid\":\"n1.1.1\",\"count\":1}\n\n")
		io.WriteString(w, "event: leave\ndata: {\"type\":\"leave\",\"group\":\"g 1\",\"pid\":\"n1.1.1\",\"reason\":\"process_exit\",\"exit_reason\":\"normal\"}\n\n")
	}
	ctx := context.Background()
	m, err := c.Groups().Join(ctx, "g 1", "n1.1.1", map[string]int{"w": 1})
	if err != nil || m.Count != 1 || !strings.Contains(f.lastBody, `"meta":{"w":1}`) {
		t.Fatalf("join %+v %v %s", m, err, f.lastBody)
	}
	ms, more, err := c.Groups().Members(ctx, "g 1", 5)
	if err != nil || len(ms) != 1 || !more || f.last.URL.Query().Get("limit") != "5" {
		t.Fatalf("members %+v %v %v", ms, more, err)
	}
	p, err := c.Groups().List(ctx, ListOptions{Prefix: "g", Limit: 1})
	if err != nil || p.Next != "g 1" || p.Groups[0].Members != 3 {
		t.Fatalf("list %+v %v", p, err)
	}
	if n, err := c.Groups().Publish(ctx, "g 1", "hi"); err != nil || n != 3 {
		t.Fatalf("publish %d %v", n, err)
	}
	rs, err := c.Groups().Call(ctx, "g 1", "ping", 2*time.Second)
	if err != nil || len(rs) != 2 || string(rs[0].Reply) != `"pong"` || rs[1].Error != "timeout" || f.last.URL.Query().Get("timeout") != "2s" {
		t.Fatalf("call %+v %v", rs, err)
	}
	if err := c.Groups().Leave(ctx, "g 1", "n1.1.1"); err != nil || f.last.URL.Query().Get("pid") != "n1.1.1" {
		t.Fatalf("leave %v", err)
	}
	ch, err := c.Groups().Watch(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	var evs []GroupEvent
	for ev := range ch {
		evs = append(evs, ev)
	}
	if len(evs) != 3 || evs[0].Type != "join" || evs[1].ExitReason != "normal" || evs[2].Err == "" {
		t.Fatalf("group events %+v", evs)
	}
}

// TestEveryAgentCodeHasASentinel: each error code the agent answers with
// (its source, read here) matches a sentinel by code or by status.
func TestEveryAgentCodeHasASentinel(t *testing.T) {
	files, err := filepath.Glob("../cmd/clusternode/*.go")
	if err != nil || len(files) == 0 {
		t.Skip("the agent's source is not beside this package")
	}
	re := regexp.MustCompile(`http\.Status([A-Za-z]+), "([a-z_]+)"`)
	status := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			status[m[2]] = statusCodes[m[1]]
		}
	}
	for code, st := range status {
		if code == "internal" || st == 0 {
			continue
		}
		if _, ok := codeErrors[code]; !ok && statusErrors[st] == nil {
			t.Errorf("code %q (HTTP %d) matches no sentinel", code, st)
		}
	}
}

var statusCodes = map[string]int{
	"BadRequest": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "MethodNotAllowed": 405,
	"RequestTimeout": 408, "Conflict": 409, "Gone": 410, "RequestEntityTooLarge": 413,
	"UnsupportedMediaType": 415, "MisdirectedRequest": 421, "TooManyRequests": 429,
	"InternalServerError": 500, "NotImplemented": 501, "BadGateway": 502, "ServiceUnavailable": 503,
	"GatewayTimeout": 504,
}
