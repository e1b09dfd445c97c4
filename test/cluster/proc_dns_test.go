package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcReplacedPodRejoinsByDNS runs 3 agents as a Kubernetes
// StatefulSet would: each on its own address, all joining one DNS name
// (a headless Service: one A record per pod) through -join-resolver. The
// third "pod" is killed and replaced: same node name and data directory, a
// new IP, the DNS record moved to it. It rejoins through the name alone,
// keeps its Raft suffrage (3 voters, itself among them, writes accepted
// through it), and no name of a live owner is lost.
func TestProcReplacedPodRejoinsByDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-process cluster")
	}
	bin, err := procBinary()
	if err != nil {
		t.Fatal(err)
	}
	key, err := exec.Command(bin, "keygen").Output()
	if err != nil {
		t.Fatal(err)
	}
	d, err := startProcDNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ips := []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"}
	moved := "127.0.0.24"
	gossip, err := procPortOnAll(append(ips, moved)...)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := procFreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	const service = "roster-peers.roster.test"
	d.Set(service, ips...)
	log := newProcLog(t)
	root := t.TempDir()
	nodes := make([]*procNode, 3)
	args := func(i int, ip string) []string {
		p := ports[i]
		return []string{
			"-node", nodes[i].name, "-data-dir", nodes[i].dataDir, "-bind", ip,
			"-gossip-port", strconv.Itoa(gossip), "-port", strconv.Itoa(p.Port), "-raft-port", strconv.Itoa(p.Raft),
			"-http", "127.0.0.1:" + strconv.Itoa(p.HTTP), "-bootstrap-expect", "3",
			"-join", service + ":" + strconv.Itoa(gossip), "-join-resolver", d.Addr,
			"-encrypt", strings.TrimSpace(string(key)), "-profile", "fast",
		}
	}
	var apis []*procAPI
	var names []string
	for i := range nodes {
		name := fmt.Sprintf("roster-%d", i)
		nodes[i] = &procNode{name: name, dataDir: filepath.Join(root, name), ports: ports[i],
			api: newProcAPI("127.0.0.1:" + strconv.Itoa(ports[i].HTTP))}
		nodes[i].args = args(i, ips[i])
		apis, names = append(apis, nodes[i].api), append(names, name)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.Running() {
				_ = n.kill()
			}
		}
	})
	for _, n := range nodes {
		if err := n.start(bin, log); err != nil {
			t.Fatal(err)
		}
	}
	healthy := func(d time.Duration) error {
		return WaitFor(d, func() error { return procCheckHealthy(context.Background(), apis, names) })
	}
	if err := healthy(60 * time.Second); err != nil {
		t.Fatalf("the cluster did not form through DNS: %v", err)
	}
	ctx := context.Background()
	keeper, keeperFence, err := procRegister(ctx, apis[0], "dns/keeper")
	if err != nil {
		t.Fatal(err)
	}

	// The pod is deleted and rescheduled: a new IP, the record follows.
	if err := nodes[2].kill(); err != nil {
		t.Fatal(err)
	}
	d.Set(service, ips[0], ips[1], moved)
	nodes[2].args = args(2, moved)
	replaced := time.Now()
	if err := nodes[2].start(bin, log); err != nil {
		t.Fatal(err)
	}
	if err := healthy(60 * time.Second); err != nil {
		t.Fatalf("the replaced pod did not rejoin: %v", err)
	}
	t.Logf("MEASURE replaced pod healthy in the cluster %v after its restart at the new address", time.Since(replaced).Round(time.Millisecond))
	err = WaitFor(30*time.Second, func() error {
		for i, api := range apis {
			st, err := api.status(ctx)
			if err != nil {
				return err
			}
			voters, _ := st["voters"].([]any)
			if len(voters) != 3 || !strings.Contains(fmt.Sprint(voters), nodes[2].name) {
				return fmt.Errorf("%s reports voters %v", names[i], voters)
			}
			members, _ := st["members"].([]any)
			for _, m := range members {
				mm, _ := m.(map[string]any)
				if mm["node"] == nodes[2].name && (!strings.HasPrefix(fmt.Sprint(mm["addr"]), moved+":") || mm["role"] != "voter") {
					return fmt.Errorf("%s sees %s at %v as %v, want %s as a voter", names[i], nodes[2].name, mm["addr"], mm["role"], moved)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// It votes and serves writes: a registration through it commits and
	// reaches every replica.
	pid, _, err := procRegister(ctx, apis[2], "dns/after-move")
	if err != nil {
		t.Fatal(err)
	}
	if err := procWaitName(ctx, apis, "dns/after-move", pid, 0, 10*time.Second); err != nil {
		t.Error(err)
	}
	if err := procWaitName(ctx, apis, "dns/keeper", keeper, keeperFence, 10*time.Second); err != nil {
		t.Errorf("a live owner's name was lost: %v", err)
	}
	// The move kept quorum semantics: with the moved node and one other,
	// writes still commit when the third is gone.
	owner, err := apis[2].spawn(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].kill(); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(30*time.Second, func() error {
		a, err := apis[2].register(ctx, "dns/two-of-three", owner)
		if err != nil {
			return err
		}
		if a.Status != http.StatusCreated {
			return fmt.Errorf("register with %s down: %d %v", names[1], a.Status, a.Body)
		}
		return nil
	})
	if err != nil {
		t.Errorf("the moved node does not count towards the quorum: %v", err)
	}
}
