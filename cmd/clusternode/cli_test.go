package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/api"
)

// cli runs a client command against the test API.
func (a *testAPI) cli(args ...string) (string, error) {
	var out bytes.Buffer
	env := envMap(map[string]string{"CLUSTERNODE_HTTP_ADDR": a.base})
	c := cliCommands[args[0]]
	err := runCLI(context.Background(), args[0], c, args[1:], &out, &out, env)
	return out.String(), err
}

func TestCLI(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	a.expect("PUT", "/v1/names/svc.a", `{"pid":"`+pid+`","meta":{"k":"v"}}`, http.StatusCreated, "")
	a.expect("PUT", "/v1/names/other", `{"pid":"`+pid+`"}`, http.StatusCreated, "")

	out, err := a.cli("status")
	if err != nil || !strings.Contains(out, "leader") || !strings.Contains(out, "n1") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = a.cli("members", "-json")
	var members []api.Member
	if err != nil || json.Unmarshal([]byte(out), &members) != nil || len(members) != 1 || members[0].State != "alive" {
		t.Fatalf("members -json: %v\n%s", err, out)
	}
	out, err = a.cli("names", "-prefix", "svc.")
	if err != nil || !strings.Contains(out, "svc.a") || strings.Contains(out, "other") || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("names -prefix: %v\n%s", err, out)
	}
	out, err = a.cli("whereis", "svc.a", "-consistent", "-json")
	var n api.Registration
	if err != nil || json.Unmarshal([]byte(out), &n) != nil || string(n.PID) != pid || !strings.Contains(string(n.Meta), `"v"`) {
		t.Fatalf("whereis: %v\n%s", err, out)
	}
	_, err = a.cli("whereis", "ghost")
	var re *api.Error
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || re.Code != "not_found" || !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("whereis ghost: %v", err)
	}
	out, err = a.cli("send", "svc.a", `{"x":1}`)
	if err != nil || !strings.Contains(out, pid) {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if _, err := a.cli("send", "svc.a", `not json`); exitStatus(err) != 2 {
		t.Fatalf("send bad JSON: %v", err)
	}
	if _, err := a.cli("whereis"); exitStatus(err) != 2 {
		t.Fatalf("whereis without a name: %v", err)
	}
	got := a.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusOK, "")
	if len(got["messages"].([]any)) != 1 {
		t.Fatalf("message not delivered: %v", got)
	}
}

func TestCLIHealth(t *testing.T) {
	a := newTestAPI(t)
	if out, err := a.cli("health"); err != nil || out != "healthy\n" {
		t.Fatalf("health: %v %q", err, out)
	}
	a.fake.setHealth(errors.New("no leader"))
	if _, err := a.cli("health"); exitStatus(err) != 1 {
		t.Fatalf("unhealthy: %v", err)
	}
	var out bytes.Buffer
	err := runCLI(context.Background(), "health", cliCommands["health"], []string{"-http-addr", "127.0.0.1:1", "-timeout", "2s"}, &out, &out, noEnv)
	if exitStatus(err) != 1 || !strings.Contains(out.String(), "unhealthy") {
		t.Fatalf("unreachable agent: %v %q", err, out.String())
	}
}

func TestCLIWatch(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		c := cliCommands["watch"]
		done <- runCLI(ctx, "watch", c, []string{"-prefix", "w.", "-json", "-http-addr", a.base}, &out, &out, noEnv)
	}()
	waitFor(t, "watcher", func() error {
		if a.fake.watcherCount() != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	a.expect("PUT", "/v1/names/w.1", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	waitFor(t, "event printed", func() error {
		if !strings.Contains(out.String(), `"name":"w.1"`) {
			return errors.New(out.String())
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch returned %v after ctrl-c", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop")
	}
}

// TestCLIEscapesTerminalControls: names, meta and events are anyone's
// input; no client command prints a raw control character from them, in
// tables or in -json.
func TestCLIEscapesTerminalControls(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	evil := "evil\x1b]0;pwned\x07\x1b[2J\u009b31m\u202etxt.exe\x7f\tend"
	body, _ := json.Marshal(map[string]any{"pid": pid, "meta": map[string]string{"m": "\x1b[31mred"}})
	a.expect("PUT", "/v1/names/"+url.PathEscape(evil), string(body), http.StatusCreated, "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watchOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runCLI(ctx, "watch", cliCommands["watch"], []string{"-index", "0", "-http-addr", a.base}, &watchOut, &watchOut, noEnv)
	}()
	var watchJSON syncBuffer
	go func() {
		runCLI(ctx, "watch", cliCommands["watch"], []string{"-index", "0", "-json", "-http-addr", a.base}, &watchJSON, &watchJSON, noEnv)
	}()
	waitFor(t, "events printed", func() error {
		if !strings.Contains(watchOut.String(), "evil") || !strings.Contains(watchJSON.String(), "evil") {
			return errors.New(watchOut.String() + watchJSON.String())
		}
		return nil
	})
	outputs := map[string]string{"watch": watchOut.String(), "watch -json": watchJSON.String()}
	for _, args := range [][]string{{"names"}, {"names", "-json"}, {"whereis", evil}, {"whereis", evil, "-json"}, {"whereis", evil + "\x1b[0m"}} {
		out, err := a.cli(args...)
		if err != nil {
			out += err.Error() // main prints errors through safeText too; the message must be safe already
		}
		outputs[strings.Join(args, " ")] = out
	}
	for what, out := range outputs {
		for _, r := range out {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' {
				t.Errorf("%s printed the raw control %U:\n%q", what, r, out)
				break
			}
		}
	}
	if !strings.Contains(outputs["names"], `evil\x1b]0;pwned\x07`) {
		t.Errorf("names: want the escapes visible, got %q", outputs["names"])
	}
	var list []api.Registration
	if err := json.Unmarshal([]byte(outputs["names -json"]), &list); err != nil || len(list) != 1 || list[0].Name != evil {
		t.Errorf("names -json must stay valid JSON with the same name: %v %q", err, outputs["names -json"])
	}
	cancel()
	<-done
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain/name-1": "plain/name-1",
		"é日本":          "é日本",
		"a\x1bb":       `a\x1bb`,
		"a\\x1bb":      `a\\x1bb`,
		"\xff":         `\xff`,
		"\u200b":       `\u200b`,
		"l\nr":         `l\nr`,
	} {
		if got := safeText(in); got != want {
			t.Errorf("safeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCLITokenFlagAndEnv: -token, else ROSTER_TOKEN, goes as a Bearer token.
func TestCLITokenFlagAndEnv(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		io.WriteString(w, `{"status":"ok","node":"n1"}`)
	}))
	defer srv.Close()
	env := envMap(map[string]string{"ROSTER_TOKEN": "from-env"})
	var out bytes.Buffer
	if err := runCLI(context.Background(), "health", cliCommands["health"], []string{"-http-addr", srv.URL}, &out, &out, env); err != nil {
		t.Fatal(err)
	}
	if err := runCLI(context.Background(), "health", cliCommands["health"], []string{"-http-addr", srv.URL, "-token", "from-flag"}, &out, &out, env); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "Bearer from-env" || got[1] != "Bearer from-flag" {
		t.Errorf("Authorization headers %q", got)
	}
}

// names reads every page by default; -limit prints one page and the
// command for the next.
func TestCLINamesPages(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	const n = 2*defaultPageLimit + 5
	for i := range n {
		a.expect("PUT", fmt.Sprintf("/v1/names/p.%05d", i), `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	}
	out, err := a.cli("names", "-json")
	var all []api.Registration
	if err != nil || json.Unmarshal([]byte(out), &all) != nil || len(all) != n || all[n-1].Name != fmt.Sprintf("p.%05d", n-1) {
		t.Fatalf("names -json: %d names, %v", len(all), err)
	}
	out, err = a.cli("names", "-limit", "3", "-after", "p.00010")
	if err != nil || !strings.Contains(out, "p.00011") || !strings.Contains(out, "p.00013") || strings.Contains(out, "p.00014") ||
		!strings.Contains(out, "more: clusternode names -after p.00013") {
		t.Fatalf("names -limit 3: %v\n%s", err, out)
	}
	out, err = a.cli("names", "-limit", "3", "-after", fmt.Sprintf("p.%05d", n-2), "-json")
	var page api.NamePage
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Names) != 1 || page.Next != "" {
		t.Fatalf("last page: %v\n%s", err, out)
	}
}
