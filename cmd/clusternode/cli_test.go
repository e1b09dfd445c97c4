package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
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
	var members []wireMember
	if err != nil || json.Unmarshal([]byte(out), &members) != nil || len(members) != 1 || members[0].State != "alive" {
		t.Fatalf("members -json: %v\n%s", err, out)
	}
	out, err = a.cli("names", "-prefix", "svc.")
	if err != nil || !strings.Contains(out, "svc.a") || strings.Contains(out, "other") || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("names -prefix: %v\n%s", err, out)
	}
	out, err = a.cli("whereis", "svc.a", "-consistent", "-json")
	var n wireName
	if err != nil || json.Unmarshal([]byte(out), &n) != nil || n.PID != pid || !strings.Contains(string(n.Meta), `"v"`) {
		t.Fatalf("whereis: %v\n%s", err, out)
	}
	_, err = a.cli("whereis", "ghost")
	var re *remoteError
	if !errors.As(err, &re) || re.Status != http.StatusNotFound || re.Body.Code != "not_found" {
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
