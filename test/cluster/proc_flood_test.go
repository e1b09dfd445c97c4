package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procMetric reads one unlabelled metric from api's /metrics.
func procMetric(ctx context.Context, api *procAPI, name string) (float64, error) {
	a, err := api.raw(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(a.Body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%w: /metrics has no %s", ErrProcAPI, name)
}

// TestProcPortFlood: 2,000 idle connections each to one agent's raft and
// gossip ports. The agent's goroutines and heap stay bounded (the raft
// listener holds at most its handshake slots and closes the rest by
// deadline; gossip serves at most 128 streams), health stays honest (200:
// the cluster works), and writes through the flooded agent keep
// succeeding.
func TestProcPortFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	c := newProcCluster(t, procOptions{})
	ctx := context.Background()
	api := c.API(0)
	g0, err := procMetric(ctx, api, "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}
	h0, err := procMetric(ctx, api, "go_memstats_heap_inuse_bytes")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := api.spawn(ctx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const perPort = 2000
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	dialStart := time.Now()
	for _, port := range []int{c.nodes[0].ports.Raft, c.nodes[0].ports.Gossip} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for range perPort {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			conns = append(conns, nc)
		}
	}
	t.Logf("dialled %d connections in %v", len(conns), time.Since(dialStart))
	var gMax, hMax float64
	for k := range 10 { // two seconds under the flood
		if err := api.healthy(ctx); err != nil {
			t.Fatalf("health under the flood: %v", err)
		}
		if a, err := api.register(ctx, fmt.Sprintf("flood-%d", k), pid); err != nil || a.Status != 201 {
			t.Fatalf("register under the flood: %v %d %v", err, a.Status, a.Body)
		}
		g, _ := procMetric(ctx, api, "go_goroutines")
		h, _ := procMetric(ctx, api, "go_memstats_heap_inuse_bytes")
		gMax, hMax = max(gMax, g), max(hMax, h)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d idle connections: goroutines %.0f -> max %.0f, heap in use %.1f -> max %.1f MiB",
		len(conns), g0, gMax, h0/(1<<20), hMax/(1<<20))
	// Raft: 64 handshake slots; gossip: 128 streams; each connection is
	// one or two goroutines while it is held.
	if gMax > g0+600 {
		t.Errorf("goroutines grew from %.0f to %.0f under %d idle connections", g0, gMax, len(conns))
	}
	if hMax > h0+64<<20 {
		t.Errorf("heap grew from %.1f to %.1f MiB under %d idle connections", h0/(1<<20), hMax/(1<<20), len(conns))
	}
	if err := c.WaitHealthy(10 * time.Second); err != nil {
		t.Fatalf("cluster after the flood: %v", err)
	}
}
