package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProcessSendAndLongPoll(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("30s")
	for i := range 3 {
		a.expect("POST", "/v1/processes/"+pid+"/messages", fmt.Sprintf(`{"n":%d}`, i), http.StatusAccepted, "")
	}
	out := a.expect("GET", "/v1/processes/"+pid+"/messages?max=2", "", http.StatusOK, "")
	msgs := out["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2 (max=2): %v", len(msgs), msgs)
	}
	for i, m := range msgs {
		if n := m.(map[string]any)["body"].(map[string]any)["n"]; n != float64(i) {
			t.Fatalf("message %d has n=%v, want %d (order kept)", i, n, i)
		}
	}
	out = a.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("second poll got %v, want the third message", msgs)
	}
	out = a.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 0 {
		t.Fatalf("empty mailbox returned %v", msgs)
	}
}

func TestLongPollWaitsForAMessage(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	got := make(chan map[string]any, 1)
	go func() {
		_, _, out := a.do("GET", "/v1/processes/"+pid+"/messages?wait=20s", "")
		got <- out
	}()
	a.expect("POST", "/v1/processes/"+pid+"/messages", `"hello"`, http.StatusAccepted, "")
	select {
	case out := <-got:
		msgs := out["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["body"] != "hello" {
			t.Fatalf("long-poll got %v", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll did not return after a message arrived")
	}
}

func TestLongPollTimesOutEmpty(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	start := time.Now()
	out := a.expect("GET", "/v1/processes/"+pid+"/messages?wait=50ms", "", http.StatusOK, "")
	if msgs := out["messages"].([]any); len(msgs) != 0 {
		t.Fatalf("got %v", msgs)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("returned after %s, before wait=50ms", d)
	}
}

func TestLongPollEndsOnShutdown(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	done := make(chan int, 1)
	go func() {
		st, _, _ := a.do("GET", "/v1/processes/"+pid+"/messages?wait=60s", "")
		done <- st
	}()
	waitFor(t, "poll in flight", func() error {
		if n := a.api.clients.polling.Load(); n != 1 {
			return fmt.Errorf("%d polls in flight", n)
		}
		return nil
	})
	a.stopStreams()
	select {
	case st := <-done:
		if st != http.StatusOK {
			t.Fatalf("status %d, want 200 with no messages", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll survived shutdown")
	}
}

func TestProcessTTL(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("1s")
	p := mustPID(t, pid)
	a.clk.Advance(600 * time.Millisecond)
	a.expect("PUT", "/v1/processes/"+pid+"/renew", `{"ttl":"1s"}`, http.StatusOK, "")
	a.clk.Advance(600 * time.Millisecond)
	if !a.fake.Alive(p) {
		t.Fatal("process died although renewed within its ttl")
	}
	a.clk.Advance(500 * time.Millisecond)
	waitFor(t, "process to exit after its ttl", func() error {
		if a.fake.Alive(p) {
			return errors.New("still alive")
		}
		return nil
	})
	a.expect("PUT", "/v1/processes/"+pid+"/renew", "", http.StatusNotFound, "noproc")
	a.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusNotFound, "noproc")
}

func TestDeleteProcessDropsItsNames(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	a.expect("PUT", "/v1/names/svc", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	a.expect("PUT", "/v1/local/names/loc", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNoContent, "")
	waitFor(t, "names to go with the process", func() error {
		if st, _, _ := a.do("GET", "/v1/names/svc", ""); st != http.StatusNotFound {
			return fmt.Errorf("global name: status %d", st)
		}
		if st, _, _ := a.do("GET", "/v1/local/names/loc", ""); st != http.StatusNotFound {
			return fmt.Errorf("local name: status %d", st)
		}
		return nil
	})
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNotFound, "noproc")
	a.expect("POST", "/v1/processes/"+pid+"/messages", `1`, http.StatusNotFound, "noproc")
}

func TestProcessBadInput(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	big := `"` + strings.Repeat("x", maxBodyBytes) + `"`
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/processes", `{"ttl":"soon"}`, 400, "bad_duration"},
		{"POST", "/v1/processes", `{"ttl":"1ms"}`, 400, "bad_duration"},
		{"POST", "/v1/processes", `{"ttl":`, 400, "bad_json"},
		{"POST", "/v1/processes", `{"tll":"1s"}`, 400, "bad_json"},
		{"POST", "/v1/processes/" + pid + "/messages", `{"a":`, 400, "bad_json"},
		{"POST", "/v1/processes/" + pid + "/messages", ``, 400, "bad_json"},
		{"POST", "/v1/processes/" + pid + "/messages", big, 413, "too_large"},
		{"POST", "/v1/processes/not-a-pid/messages", `1`, 400, "bad_pid"},
		{"GET", "/v1/processes/" + pid + "/messages?wait=forever", "", 400, "bad_duration"},
		{"GET", "/v1/processes/" + pid + "/messages?wait=-1s", "", 400, "bad_duration"},
		{"GET", "/v1/processes/" + pid + "/messages?max=0", "", 400, "bad_param"},
		{"GET", "/v1/processes/" + pid + "/messages?max=x", "", 400, "bad_param"},
		{"GET", "/v1/processes/n1.7.zz/messages", "", 404, "noproc"},
		{"GET", "/v1/processes/other.7.1/messages", "", 421, "remote_pid"},
		{"PUT", "/v1/processes/" + pid + "/renew", `{"ttl":"2d"}`, 400, "bad_duration"},
		{"PATCH", "/v1/processes/" + pid, "", 405, "method_not_allowed"},
	}
	for _, c := range cases {
		a.expect(c.method, c.path, c.body, c.status, c.code)
	}
}

func TestSendToRemotePIDIsAccepted(t *testing.T) {
	a := newTestAPI(t)
	a.expect("POST", "/v1/processes/n2.5.1/messages", `{"x":1}`, http.StatusAccepted, "")
	a.fake.mu.Lock()
	defer a.fake.mu.Unlock()
	if len(a.fake.remoteSends) != 1 || a.fake.remoteSends[0].Node != "n2" {
		t.Fatalf("remote sends %v, want one to n2", a.fake.remoteSends)
	}
}

func TestRenewAndDeleteDuringLongPoll(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("1s")
	polled := make(chan int, 1)
	go func() {
		st, _, _ := a.do("GET", "/v1/processes/"+pid+"/messages?wait=30s", "")
		polled <- st
	}()
	waitFor(t, "poll in flight", func() error {
		if n := a.api.clients.polling.Load(); n != 1 {
			return fmt.Errorf("%d polls in flight", n)
		}
		return nil
	})
	a.clk.Advance(5 * time.Second) // the ttl is paused during a poll
	a.expect("PUT", "/v1/processes/"+pid+"/renew", `{"ttl":"2s"}`, http.StatusOK, "")
	if !a.fake.Alive(mustPID(t, pid)) {
		t.Fatal("process expired during a poll")
	}
	a.expect("DELETE", "/v1/processes/"+pid, "", http.StatusNoContent, "")
	select {
	case st := <-polled:
		if st != http.StatusOK {
			t.Fatalf("poll ended with %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("poll survived its process")
	}
}
