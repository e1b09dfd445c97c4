package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// loadDuration is how long TestClusterNoFalsePurgeUnderCPULoad keeps both
// cores busy: ROSTER_LOAD_DURATION (e.g. "10m" for the release figure),
// else 10 s.
func loadDuration(t *testing.T) time.Duration {
	if s := os.Getenv("ROSTER_LOAD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("ROSTER_LOAD_DURATION: %v", err)
		}
		return d
	}
	return 10 * time.Second
}

// burnCPU starts one busy process per core (separate processes, so the
// load competes with the whole test process, as a noisy neighbour would).
func burnCPU(t *testing.T) {
	t.Helper()
	for i := 0; i < runtime.NumCPU(); i++ {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start CPU burner: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}

// With the fast profile on a machine whose cores are all busy, no live
// node may be declared dead and have its names purged.
func TestClusterNoFalsePurgeUnderCPULoad(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	const perNode = 20
	want := map[string]node.PID{}
	for i, nd := range nodes {
		for j := 0; j < perNode; j++ {
			pid, _ := spawnReceiver(t, nd)
			name := fmt.Sprintf("live-%d-%d", i, j)
			if _, err := nd.RegisterGlobal(ctx, name, pid, nil); err != nil {
				t.Fatal(err)
			}
			want[name] = pid
		}
	}
	burnCPU(t)
	d := loadDuration(t)
	deadline := time.Now().Add(d)
	var writes int
	for time.Now().Before(deadline) {
		// Keep raft and the transport busy too.
		nd := nodes[writes%3]
		pid, _ := spawnReceiver(t, nd)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := nd.RegisterGlobal(wctx, fmt.Sprintf("churn-%d", writes), pid, nil); err == nil {
			_ = nd.Send(ctx, pid, "stop")
		}
		cancel()
		writes++
		time.Sleep(50 * time.Millisecond)
	}
	for _, nd := range nodes {
		st, err := nd.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, why := range []string{"node_down", "restart", "node_left"} {
			if n := st.Stats.PurgesByReason[why]; n != 0 {
				t.Errorf("%s purged %d live node(s) (%s) under CPU load", nd.ID(), n, why)
			}
		}
		for name, pid := range want {
			r, _, err := nd.LookupGlobal(ctx, name)
			if err != nil || r.Owner != pid {
				t.Errorf("%s lost %s under CPU load: %+v %v", nd.ID(), name, r, err)
			}
		}
	}
	t.Logf("%v with %d CPU burners, %d churn writes: no live node purged", d, runtime.NumCPU(), writes)
}

// Garbage on the gossip port is dropped with a log line; the cluster
// keeps working.
func TestClusterSurvivesGarbageGossip(t *testing.T) {
	nodes := startCluster(t, 3)
	addr := nodes[0].GossipAddr()
	for _, network := range []string{"udp", "tcp"} {
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			_, _ = c.Write([]byte{byte(i), 0xff, 0x00, 0xde, 0xad, 0xbe, 0xef, byte(i * 7)})
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pid, _ := spawnReceiver(t, nodes[0])
	if _, err := nodes[0].RegisterGlobal(ctx, "after-garbage", pid, nil); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, nodes...)
	for _, nd := range nodes {
		if n := len(nd.Members()); n != 3 {
			t.Fatalf("%s sees %d members after garbage gossip", nd.ID(), n)
		}
	}
}
