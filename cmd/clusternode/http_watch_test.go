package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// openWatch starts GET path and returns a channel of parsed events, closed
// when the stream ends.
func (a *testAPI) openWatch(ctx context.Context, path string) (<-chan sseEvent, *http.Response) {
	a.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	ch := make(chan sseEvent, 16)
	if resp.StatusCode != http.StatusOK {
		close(ch)
		return ch, resp
	}
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			case line == "" && ev.event != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch, resp
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sseEvent{}
}

func TestWatchStreamsAndResumes(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, resp := a.openWatch(ctx, "/v1/watch?prefix=svc.")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	a.expect("PUT", "/v1/names/other", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	reg := a.expect("PUT", "/v1/names/svc.a", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	a.expect("DELETE", "/v1/names/svc.a?pid="+pid, "", http.StatusNoContent, "")

	ev := next(t, events)
	if ev.event != "registered" || ev.data["name"] != "svc.a" || ev.data["pid"] != pid || ev.id != fmt.Sprintf("%v.0", reg["index"]) {
		t.Fatalf("first event %+v (registration %v)", ev, reg)
	}
	ev2 := next(t, events)
	if ev2.event != "unregistered" || ev2.data["reason"] != "unregister" {
		t.Fatalf("second event %+v", ev2)
	}

	// Resume after the first event: only the second comes again.
	events2, _ := a.openWatch(ctx, "/v1/watch?prefix=svc.&index="+ev.id)
	if ev := next(t, events2); ev.id != ev2.id || ev.event != "unregistered" {
		t.Fatalf("resumed stream started with %+v, want id %s", ev, ev2.id)
	}
}

func TestWatchLastEventID(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	a.expect("PUT", "/v1/names/a", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	b := a.expect("PUT", "/v1/names/b", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	req, _ := http.NewRequest("GET", a.base+"/v1/watch", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req = req.WithContext(ctx)
	req.Header.Set("Last-Event-ID", fmt.Sprint(b["index"].(float64)-1))
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			if !strings.Contains(sc.Text(), `"name":"b"`) {
				t.Fatalf("first event after Last-Event-ID: %s", sc.Text())
			}
			return
		}
	}
	t.Fatal("stream ended without an event")
}

func TestWatchEndsWhenClientGoesOrServerStops(t *testing.T) {
	a := newTestAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	events, _ := a.openWatch(ctx, "/v1/watch")
	waitFor(t, "watcher registered", func() error {
		if n := a.fake.watcherCount(); n != 1 {
			return fmt.Errorf("%d watchers", n)
		}
		return nil
	})
	cancel()
	waitFor(t, "watcher gone after the client left", func() error {
		if n := a.fake.watcherCount(); n != 0 {
			return fmt.Errorf("%d watchers", n)
		}
		return nil
	})
	for range events {
	}

	events, _ = a.openWatch(context.Background(), "/v1/watch")
	waitFor(t, "second watcher", func() error {
		if n := a.fake.watcherCount(); n != 1 {
			return fmt.Errorf("%d watchers", n)
		}
		return nil
	})
	a.stopStreams()
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream survived shutdown")
	}
}

func TestWatchBadInput(t *testing.T) {
	a := newTestAPI(t)
	for _, bad := range []string{"-3", "x", "4.", "4.-1", "4.x", ".1"} {
		a.expect("GET", "/v1/watch?index="+bad, "", http.StatusBadRequest, "bad_param")
	}
	a.fake.mu.Lock()
	a.fake.floor = 100
	a.fake.mu.Unlock()
	a.expect("GET", "/v1/watch?index=5", "", http.StatusGone, "compacted")
}

// TestWatchSeveralEventsAtOneIndex: one raft entry can hold several
// changes; ids "I.n" tell them apart and resume between them.
func TestWatchSeveralEventsAtOneIndex(t *testing.T) {
	a := newTestAPI(t)
	pid := a.spawn("")
	idx := a.fake.batch(mustPID(t, pid), "b.1", "b.2", "b.3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := a.openWatch(ctx, fmt.Sprintf("/v1/watch?prefix=b.&index=%d", idx-1))
	for i := range 3 {
		if ev := next(t, events); ev.id != fmt.Sprintf("%d.%d", idx, i) || ev.data["name"] != fmt.Sprintf("b.%d", i+1) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	resumed, _ := a.openWatch(ctx, fmt.Sprintf("/v1/watch?prefix=b.&index=%d.1", idx))
	if ev := next(t, resumed); ev.id != fmt.Sprintf("%d.2", idx) || ev.data["name"] != "b.3" {
		t.Fatalf("resume after %d.1: %+v", idx, ev)
	}
	after, _ := a.openWatch(ctx, fmt.Sprintf("/v1/watch?prefix=b.&index=%d", idx))
	a.expect("PUT", "/v1/names/b.4", `{"pid":"`+pid+`"}`, http.StatusCreated, "")
	if ev := next(t, after); ev.data["name"] != "b.4" {
		t.Fatalf("resume after all of %d: %+v", idx, ev)
	}
}
