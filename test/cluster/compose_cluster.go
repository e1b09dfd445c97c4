package cluster

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// composeHTTPPorts are the host loopback ports docker-compose.yml
// publishes node1..node3's HTTP API on (fixed in the file).
var composeHTTPPorts = []int{7480, 7481, 7482}

// composeCmdTimeout bounds one docker or docker-compose command.
const composeCmdTimeout = 3 * time.Minute

// composeCluster is the repository's docker-compose.yml brought up under
// a unique project name with test/cluster/compose_override.yml, an image
// built by cmd/clusternode/docker-build.sh under a unique tag and a fresh
// gossip key. Methods are for the test goroutine; down -v, and removal of
// the image, run in t.Cleanup.
type composeCluster struct {
	t       testing.TB
	root    string // repository root
	dir     string // --project-directory: holds bin/cluster.env
	project string
	image   string
	apis    []*procAPI

	detached map[int]composeAttachment // by Disconnect, for Connect
}

// composeAvailable reports why the harness cannot run, or nil.
func composeAvailable() error {
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not on PATH", ErrComposeUnavailable, tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: docker info: %v: %s", ErrComposeUnavailable, err, composeTail(out))
	}
	for _, p := range composeHTTPPorts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return fmt.Errorf("%w: host port 127.0.0.1:%d that docker-compose.yml publishes is busy (another compose cluster up?): %v",
				ErrComposeUnavailable, p, err)
		}
		ln.Close()
	}
	return nil
}

// newComposeCluster builds the image, writes the env file and brings the
// cluster up, failing the test on any error.
func newComposeCluster(t testing.TB, seed int64) *composeCluster {
	t.Helper()
	root, err := procRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d%04d", os.Getpid(), rand.New(rand.NewSource(seed)).Intn(10000))
	c := &composeCluster{t: t, root: root, dir: t.TempDir(), project: "rostertest" + id,
		image: "roster/clusternode:test" + id, detached: map[int]composeAttachment{}}
	for _, p := range composeHTTPPorts {
		c.apis = append(c.apis, newProcAPI(fmt.Sprintf("127.0.0.1:%d", p)))
	}
	start := time.Now()
	if _, err := c.run("", filepath.Join(root, "cmd", "clusternode", "docker-build.sh"), c.image); err != nil {
		t.Fatalf("building the image: %v", err)
	}
	t.Cleanup(func() { _, _ = c.run("", "docker", "rmi", c.image) })
	t.Logf("image %s built in %v", c.image, time.Since(start).Round(time.Millisecond))
	if err := c.writeEnv(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.down)
	if _, err := c.compose("up", "-d"); err != nil {
		t.Fatalf("docker-compose up: %v", err)
	}
	return c
}

// writeEnv writes bin/cluster.env under the project directory with a key
// and an ACL operator token from the image's own `clusternode keygen` (what
// docker-env.sh writes), and gives the token to the API clients.
func (c *composeCluster) writeEnv() error {
	key, err := c.run("", "docker", "run", "--rm", "--network", "none", c.image, "keygen")
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "bin"), 0o700); err != nil {
		return err
	}
	token, err := c.run("", "docker", "run", "--rm", "--network", "none", c.image, "keygen")
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	token = strings.TrimSpace(token)
	for _, api := range c.apis {
		api.hdr = http.Header{"Authorization": {"Bearer " + token}}
	}
	lines := "CLUSTERNODE_ENCRYPT=" + strings.TrimSpace(key) + "\n" +
		"CLUSTERNODE_ACL_OPERATOR_TOKEN=" + token + "\nROSTER_TOKEN=" + token + "\n"
	return os.WriteFile(filepath.Join(c.dir, "bin", "cluster.env"), []byte(lines), 0o600)
}

// down removes containers, network and volumes; on failure it first logs
// the containers' output.
func (c *composeCluster) down() {
	if c.t.Failed() {
		if out, err := c.compose("logs", "--no-color", "--tail", "300"); err == nil {
			c.t.Logf("docker-compose logs:\n%s", out)
		}
	}
	if _, err := c.compose("down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		c.t.Errorf("docker-compose down: %v", err)
	}
}

// compose runs docker-compose on the repository's file plus the override.
func (c *composeCluster) compose(args ...string) (string, error) {
	base := []string{
		"-p", c.project,
		"-f", filepath.Join(c.root, "docker-compose.yml"),
		"-f", filepath.Join(c.root, "test", "cluster", "compose_override.yml"),
		"--project-directory", c.dir,
	}
	return c.run("ROSTER_TEST_IMAGE="+c.image, "docker-compose", append(base, args...)...)
}

// run runs a command in the repository root and returns its stdout.
func (c *composeCluster) run(env, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), composeCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, composeTail([]byte(stderr.String())))
	}
	return string(out), nil
}

// composeTail is the last part of a command's output, for errors.
func composeTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// Name is node i's node id (node1..node3).
func (c *composeCluster) Name(i int) string { return fmt.Sprintf("node%d", i+1) }

// API is node i's HTTP API on its published loopback port.
func (c *composeCluster) API(i int) *procAPI { return c.apis[i] }

// container returns node i's container id.
func (c *composeCluster) container(i int) (string, error) {
	out, err := c.compose("ps", "-q", c.Name(i))
	id := strings.TrimSpace(out)
	if err == nil && id == "" {
		err = fmt.Errorf("no container for %s", c.Name(i))
	}
	return id, err
}

// docker runs `docker verb <node i's container> extra...`.
func (c *composeCluster) docker(i int, verb string, extra ...string) error {
	id, err := c.container(i)
	if err != nil {
		return err
	}
	_, err = c.run("", "docker", append([]string{verb, id}, extra...)...)
	return err
}

// Kill is `docker kill` (SIGKILL) of node i's container.
func (c *composeCluster) Kill(i int) error { return c.docker(i, "kill") }

// Start is `docker start` of node i's stopped container (same volume).
func (c *composeCluster) Start(i int) error { return c.docker(i, "start") }

// Restart is `docker restart` (SIGTERM, graceful leave, start again).
func (c *composeCluster) Restart(i int) error { return c.docker(i, "restart", "-t", "30") }

// Pause and Unpause freeze and thaw node i's container (cgroup freezer).
func (c *composeCluster) Pause(i int) error   { return c.docker(i, "pause") }
func (c *composeCluster) Unpause(i int) error { return c.docker(i, "unpause") }

// Disconnect takes node i off its network (a partition of one). It
// remembers the network and address for Connect.
func (c *composeCluster) Disconnect(i int) error {
	id, err := c.container(i)
	if err != nil {
		return err
	}
	out, err := c.run("", "docker", "inspect", "-f",
		"{{range $net, $ep := .NetworkSettings.Networks}}{{$net}} {{$ep.IPAddress}}\n{{end}}", id)
	if err != nil {
		return err
	}
	fields := strings.Fields(out)
	if len(fields) != 2 {
		return fmt.Errorf("%s: want one network with an address, docker inspect says %q", c.Name(i), out)
	}
	c.detached[i] = composeAttachment{network: fields[0], ip: fields[1]}
	_, err = c.run("", "docker", "network", "disconnect", fields[0], id)
	return err
}

// Connect puts node i back on the network it was disconnected from, with
// the same address (peers and the published port know it).
func (c *composeCluster) Connect(i int) error {
	id, err := c.container(i)
	if err != nil {
		return err
	}
	at, ok := c.detached[i]
	if !ok {
		return fmt.Errorf("%s was not disconnected", c.Name(i))
	}
	if _, err := c.run("", "docker", "network", "connect", "--ip", at.ip, at.network, id); err != nil {
		return err
	}
	delete(c.detached, i)
	return nil
}

// composeAttachment is where a disconnected container was attached.
type composeAttachment struct{ network, ip string }

// WaitHealthy waits up to d until the three nodes are healthy over their
// published ports, agree on a leader and see each other alive.
func (c *composeCluster) WaitHealthy(d time.Duration) error {
	names := []string{c.Name(0), c.Name(1), c.Name(2)}
	return WaitFor(d, func() error { return procCheckHealthy(context.Background(), c.apis, names) })
}
