package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procOptions configure a procCluster.
type procOptions struct {
	// Size is the number of agents, all Raft voters. Default 3.
	Size int
	// Profile is the agents' -profile: "fast" (default: purge in ~2 s) or
	// "lan" (the daemon's default, ~8 s).
	Profile string
	// FormTimeout bounds waiting for the first healthy cluster. Default
	// 60 s (two loaded cores).
	FormTimeout time.Duration
	// KeyFile passes the cluster key as -encrypt-file (a 0600 file)
	// instead of -encrypt.
	KeyFile bool
	// ExtraArgs are appended to every agent's flags (-acl-file, bounds).
	ExtraArgs []string
	// Token, when set, is the ACL token every API client presents.
	Token string
}

func (o *procOptions) fill() {
	if o.Size == 0 {
		o.Size = 3
	}
	if o.Profile == "" {
		o.Profile = "fast"
	}
	if o.FormTimeout == 0 {
		o.FormTimeout = 60 * time.Second
	}
}

// procCluster runs N real clusternode agents on 127.0.0.1, each as its own
// OS process with free ports, its own data directory, -bootstrap-expect N,
// -join of the others and one -encrypt key from `clusternode keygen`. Its
// methods may be called from the test goroutine only (the APIs of the
// nodes, procAPI, from any goroutine). Every agent is killed when the test
// ends.
type procCluster struct {
	t       testing.TB
	bin     string
	key     string
	keyFile string // set with procOptions.KeyFile
	log     *procLog
	nodes   []*procNode

	strangers []*procNode // agents outside the cluster (startStranger)
}

// newProcCluster starts the agents and waits until they form a healthy
// cluster. It fails the test (t.Fatal) on any error.
func newProcCluster(t testing.TB, o procOptions) *procCluster {
	t.Helper()
	o.fill()
	bin, err := procBinary()
	if err != nil {
		t.Fatal(err)
	}
	key, err := exec.Command(bin, "keygen").Output()
	if err != nil {
		t.Fatalf("clusternode keygen: %v", err)
	}
	ports, err := procFreePorts(o.Size)
	if err != nil {
		t.Fatal(err)
	}
	c := &procCluster{t: t, bin: bin, key: strings.TrimSpace(string(key)), log: newProcLog(t)}
	root := t.TempDir()
	if o.KeyFile {
		c.keyFile = filepath.Join(root, "cluster.key")
		if err := os.WriteFile(c.keyFile, []byte(c.key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := range o.Size {
		name := fmt.Sprintf("p%d", i+1)
		n := &procNode{name: name, dataDir: filepath.Join(root, name), ports: ports[i],
			api: newProcAPI("127.0.0.1:" + strconv.Itoa(ports[i].HTTP))}
		n.args = c.agentArgs(n, ports, i, o)
		if o.Token != "" {
			n.api.setToken(o.Token)
		}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(c.killAll)
	for i, n := range c.nodes {
		if err := n.start(c.bin, c.log); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if err := c.WaitHealthy(o.FormTimeout); err != nil {
		t.Fatalf("cluster did not form: %v", err)
	}
	return c
}

// agentArgs are node i's flags; -join names every other node.
func (c *procCluster) agentArgs(n *procNode, ports []procPorts, i int, o procOptions) []string {
	var join []string
	for j, p := range ports {
		if j != i {
			join = append(join, "127.0.0.1:"+strconv.Itoa(p.Gossip))
		}
	}
	p := ports[i]
	key := []string{"-encrypt", c.key}
	if c.keyFile != "" {
		key = []string{"-encrypt-file", c.keyFile}
	}
	args := []string{
		"-node", n.name, "-data-dir", n.dataDir, "-bind", "127.0.0.1",
		"-gossip-port", strconv.Itoa(p.Gossip), "-port", strconv.Itoa(p.Port),
		"-raft-port", strconv.Itoa(p.Raft), "-http", "127.0.0.1:" + strconv.Itoa(p.HTTP),
		"-bootstrap-expect", strconv.Itoa(o.Size), "-join", strings.Join(join, ","),
		key[0], key[1], "-profile", o.Profile,
	}
	return append(args, o.ExtraArgs...)
}

// Size is the number of agents.
func (c *procCluster) Size() int { return len(c.nodes) }

// API returns node i's HTTP API client.
func (c *procCluster) API(i int) *procAPI { return c.nodes[i].api }

// Name returns node i's node id.
func (c *procCluster) Name(i int) string { return c.nodes[i].name }

// Kill sends SIGKILL to node i and waits for it to die.
func (c *procCluster) Kill(i int) error { return c.nodes[i].kill() }

// Pause sends SIGSTOP to node i: it keeps its sockets but answers nothing.
func (c *procCluster) Pause(i int) error { return c.nodes[i].signal(syscall.SIGSTOP) }

// Resume sends SIGCONT to a paused node i.
func (c *procCluster) Resume(i int) error { return c.nodes[i].signal(syscall.SIGCONT) }

// Stop sends SIGTERM to node i (graceful leave) and waits for it to exit.
func (c *procCluster) Stop(i int) error { return c.nodes[i].term() }

// Restart starts node i again with the same data directory, ports and
// flags; it must have been killed or stopped.
func (c *procCluster) Restart(i int) error { return c.nodes[i].start(c.bin, c.log) }

// Running lists the nodes whose process is up and not paused.
func (c *procCluster) Running() []int {
	var out []int
	for i, n := range c.nodes {
		n.mu.Lock()
		up := n.running() && !n.paused
		n.mu.Unlock()
		if up {
			out = append(out, i)
		}
	}
	return out
}

// RollingRestart stops (SIGTERM) and restarts every node in turn, keeping
// it down for down (the scenario's length, not a synchronisation), then
// waiting up to each for the whole cluster to be healthy again before the
// next. after, if not nil, is called after each node is back.
func (c *procCluster) RollingRestart(down, each time.Duration, after func(i int)) error {
	for i := range c.nodes {
		if err := c.Stop(i); err != nil {
			return err
		}
		time.Sleep(down)
		if err := c.Restart(i); err != nil {
			return err
		}
		if err := c.WaitHealthy(each); err != nil {
			return fmt.Errorf("after restarting %s: %w", c.Name(i), err)
		}
		if after != nil {
			after(i)
		}
	}
	return nil
}

// startStranger starts one more agent, not a member of c, that tries to
// join c's nodes with the gossip key key (another cluster's, say). It is
// killed when the test ends.
func (c *procCluster) startStranger(name, key string) (*procNode, error) {
	ports, err := procFreePorts(1)
	if err != nil {
		return nil, err
	}
	n := &procNode{name: name, dataDir: filepath.Join(c.t.TempDir(), name), ports: ports[0],
		api: newProcAPI("127.0.0.1:" + strconv.Itoa(ports[0].HTTP))}
	all := append(ports, make([]procPorts, 0, len(c.nodes))...)
	for _, m := range c.nodes {
		all = append(all, m.ports)
	}
	n.args = c.agentArgs(n, all, 0, procOptions{Size: len(c.nodes), Profile: "fast"})
	for k, a := range n.args {
		if a == "-encrypt" {
			n.args[k+1] = key
		}
	}
	c.strangers = append(c.strangers, n)
	return n, n.start(c.bin, c.log)
}

// killAll kills every agent (test cleanup).
func (c *procCluster) killAll() {
	for _, n := range append(c.nodes, c.strangers...) {
		if n.Running() {
			if err := n.kill(); err != nil {
				c.t.Errorf("cleanup: %v", err)
			}
		}
	}
}

// errProcUnhealthy is wrapped by WaitHealthy's last error.
var errProcUnhealthy = errors.New("cluster not healthy")

// WaitHealthy waits up to d until every running node answers /v1/health
// with 200, all name the same leader, and each sees every running node as
// an alive member.
func (c *procCluster) WaitHealthy(d time.Duration) error {
	return WaitFor(d, func() error { return c.healthy(context.Background()) })
}

func (c *procCluster) healthy(ctx context.Context) error {
	running := c.Running()
	names := make([]string, len(running))
	for k, i := range running {
		names[k] = c.Name(i)
	}
	return procCheckHealthy(ctx, c.apis(running), names)
}

// procCheckHealthy checks that every api (of node names[i]) answers
// /v1/health with 200, all name the same leader, and each sees every
// other as an alive member.
func procCheckHealthy(ctx context.Context, apis []*procAPI, names []string) error {
	leader := ""
	for i, api := range apis {
		if err := api.healthy(ctx); err != nil {
			return fmt.Errorf("%w: %s: %w", errProcUnhealthy, names[i], err)
		}
		st, err := api.status(ctx)
		if err != nil {
			return err
		}
		l, _ := st["leader"].(string)
		if leader != "" && l != leader {
			return fmt.Errorf("%w: %s follows %q, others %q", errProcUnhealthy, names[i], l, leader)
		}
		leader = l
		alive := map[string]bool{}
		members, _ := st["members"].([]any)
		for _, m := range members {
			mm, _ := m.(map[string]any)
			if mm["state"] == "alive" {
				alive[fmt.Sprint(mm["node"])] = true
			}
		}
		for _, n := range names {
			if !alive[n] {
				return fmt.Errorf("%w: %s does not see %s alive: %v", errProcUnhealthy, names[i], n, members)
			}
		}
	}
	return nil
}

// Leader returns the index of the node every running node names as
// leader, or -1.
func (c *procCluster) Leader(ctx context.Context) int {
	for _, i := range c.Running() {
		st, err := c.API(i).status(ctx)
		if err != nil {
			continue
		}
		for j := range c.nodes {
			if st["leader"] == c.Name(j) {
				return j
			}
		}
	}
	return -1
}

// apis returns the API clients of the nodes idx.
func (c *procCluster) apis(idx []int) []*procAPI {
	out := make([]*procAPI, len(idx))
	for k, i := range idx {
		out[k] = c.API(i)
	}
	return out
}
