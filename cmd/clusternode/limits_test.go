package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func withLimits(l limitsConfig) func(*apiServer) {
	return func(s *apiServer) {
		s.limits = newLimits(l)
		s.clients.maxProcs, s.clients.maxPerOwner = l.MaxProcesses, l.MaxProcessesPerToken
		if mb, ok := s.be.(mailboxBounder); ok {
			mb.boundMailboxes(l.MailboxLimit)
		}
	}
}

func TestProcessLimits(t *testing.T) {
	l := defaultLimits()
	l.MaxProcesses, l.MaxProcessesPerToken = 3, 2
	acl := testACLs(t)
	a := newTestAPIWith(t, func(s *apiServer) { s.acl = acl; withLimits(l)(s) })
	billing, other, ops := a.as(billingSecret), a.as(otherSecret), a.as(operatorSecret)
	p1 := billing.spawn("")
	billing.spawn("")
	billing.expect("POST", "/v1/processes", "", http.StatusTooManyRequests, "too_many_processes")
	other.spawn("")
	ops.expect("POST", "/v1/processes", "", http.StatusTooManyRequests, "too_many_processes") // node-wide
	// An exit gives the slot back.
	billing.expect("DELETE", "/v1/processes/"+p1, "", http.StatusNoContent, "")
	waitFor(t, "slot back", func() error {
		if st, _, out := billing.do("POST", "/v1/processes", ""); st != http.StatusCreated {
			return fmt.Errorf("%d %v", st, out)
		}
		return nil
	})
	if got := scrapeSeries(t, a, `roster_http_refused_total{code="too_many_processes"}`); got != "2" {
		t.Fatalf("refused counter %q, want 2", got)
	}
}

func TestMailboxBound(t *testing.T) {
	l := defaultLimits()
	l.MailboxLimit = 2
	a := newTestAPIWith(t, withLimits(l))
	pid := a.spawn("")
	a.expect("POST", "/v1/processes/"+pid+"/messages", `1`, http.StatusAccepted, "")
	a.expect("POST", "/v1/processes/"+pid+"/messages", `2`, http.StatusAccepted, "")
	a.expect("POST", "/v1/processes/"+pid+"/messages", `3`, http.StatusTooManyRequests, "mailbox_full")
	a.expect("GET", "/v1/processes/"+pid+"/messages", "", http.StatusOK, "")
	a.expect("POST", "/v1/processes/"+pid+"/messages", `4`, http.StatusAccepted, "")
	if got := scrapeSeries(t, a, `roster_http_refused_total{code="mailbox_full"}`); got != "1" {
		t.Fatalf("mailbox_full counter %q, want 1", got)
	}
}

func TestWatchLimits(t *testing.T) {
	l := defaultLimits()
	l.MaxWatches, l.MaxWatchesPerToken = 3, 2
	acl := testACLs(t)
	a := newTestAPIWith(t, func(s *apiServer) { s.acl = acl; withLimits(l)(s) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(secret, prefix string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", a.base+"/v1/watch?prefix="+prefix, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var streams []*http.Response
	for range 2 {
		r := open(billingSecret, "billing/")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("watch: %d", r.StatusCode)
		}
		streams = append(streams, r)
	}
	if r := open(billingSecret, "billing/"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third watch of one token: %d, want 429", r.StatusCode)
	}
	streams = append(streams, open(otherSecret, ""))
	if r := open(operatorSecret, ""); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("watch over the node's total: %d, want 429", r.StatusCode)
	}
	if got := scrapeSeries(t, a, `roster_http_watches`); got != "3" {
		t.Fatalf("roster_http_watches %q, want 3", got)
	}
	streams[0].Body.Close()
	waitFor(t, "a slot back", func() error {
		if n := a.api.limits.openWatches(); n != 2 {
			return fmt.Errorf("%d open", n)
		}
		return nil
	})
	if r := open(operatorSecret, ""); r.StatusCode != http.StatusOK {
		t.Fatalf("watch after one closed: %d", r.StatusCode)
	}
}

// TestSlowBodyIsCutOff: a client that sends headers and then trickles (or
// stalls) its body is answered 408 and disconnected after ReadTimeout,
// while a long-poll on the same server outlives ReadTimeout.
func TestSlowBodyIsCutOff(t *testing.T) {
	l := defaultLimits()
	l.ReadTimeout = 300 * time.Millisecond
	a := newTestAPIWith(t, withLimits(l))
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /v1/processes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ttl\":")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "body_timeout") {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cut off after %s", d)
	}
	pid := a.spawn("")
	st, _, out := a.do("GET", "/v1/processes/"+pid+"/messages?wait=700ms", "")
	if st != http.StatusOK {
		t.Fatalf("long-poll longer than ReadTimeout: %d %v", st, out)
	}
}

// TestConnectionLimit: the listener holds at most n connections; the next
// one is accepted only when one closes.
func TestConnectionLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	ln := newLimitListener(inner, 2, &open)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted over the limit of 2")
	case <-time.After(200 * time.Millisecond):
	}
	if n := open.Load(); n != 2 {
		t.Fatalf("open %d, want 2", n)
	}
	first.Close()
	first.Close() // a second Close gives nothing back twice
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted after one closed")
	}
}

// scrapeSeries returns the value of one series on /metrics ("" if absent).
func scrapeSeries(t *testing.T, a *testAPI, series string) string {
	t.Helper()
	h, err := serveMetrics(nil, a.fake, testLogger(t), limitsCollector{a.api.limits})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestWriteDeadlineRenews: the write deadline is renewed at each write,
// so a long-poll and a watch stream outlive -http-write-timeout, while a
// response write itself must make progress within it.
func TestWriteDeadlineRenews(t *testing.T) {
	l := defaultLimits()
	l.WriteTimeout = 200 * time.Millisecond
	a := newTestAPIWith(t, withLimits(l))
	pid := a.spawn("")
	st, _, out := a.do("GET", "/v1/processes/"+pid+"/messages?wait=600ms", "")
	if st != http.StatusOK {
		t.Fatalf("long-poll of 600ms with a 200ms write timeout: %d %v", st, out)
	}
	// The same keep-alive connection serves the next request after the
	// old deadline passed.
	time.Sleep(300 * time.Millisecond)
	a.expect("GET", "/v1/status", "", http.StatusOK, "")
}
