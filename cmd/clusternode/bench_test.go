package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/node/cluster"
)

// benchAPI serves the API over a real single-server cluster node (Raft in
// memory; the benchmarks measure the process and message paths).
func benchAPI(b *testing.B) (*httptest.Server, string) {
	b.Helper()
	cfg := cluster.DefaultConfig()
	cfg.NodeID = "bench"
	cfg.InmemStore = true
	cfg.Profile = cluster.ProfileFast
	cfg.Logger = hclog.NewNullLogger()
	n, err := cluster.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	be := &nodeBackend{n: n}
	metrics, err := serveMetrics(nil, be, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	stopping, stop := context.WithCancel(context.Background())
	api := &apiServer{be: be, clients: newClients(be, wallClock{}), log: hclog.NewNullLogger(),
		metrics: metrics, stopping: stopping}
	srv := httptest.NewServer(api.handler())
	b.Cleanup(func() {
		stop()
		srv.Close()
		_ = n.Shutdown(context.Background())
	})
	resp, err := srv.Client().Post(srv.URL+"/v1/processes", "application/json", strings.NewReader(`{"ttl":"1h"}`))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pid := strings.Split(string(body), `"`)[3]
	return srv, pid
}

func post(b *testing.B, c *http.Client, url, body string) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkHTTPSendReceive is one POST of a message to a client process
// and one long-poll that returns it: the HTTP round trip of the API.
func BenchmarkHTTPSendReceive(b *testing.B) {
	srv, pid := benchAPI(b)
	c := srv.Client()
	for b.Loop() {
		post(b, c, srv.URL+"/v1/processes/"+pid+"/messages", `{"n":1}`)
		resp, err := c.Get(srv.URL + "/v1/processes/" + pid + "/messages?wait=1s&max=1")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkHTTPSendBatchPoll posts 100 messages, then drains them with one
// long-poll (max=100): per-message cost when clients batch.
func BenchmarkHTTPSendBatchPoll(b *testing.B) {
	srv, pid := benchAPI(b)
	c := srv.Client()
	for b.Loop() {
		for range 100 {
			post(b, c, srv.URL+"/v1/processes/"+pid+"/messages", `{"n":1}`)
		}
		resp, err := c.Get(srv.URL + "/v1/processes/" + pid + "/messages?wait=1s&max=100")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
