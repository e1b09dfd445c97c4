package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdSys is a three-member etcd on loopback with its defaults (100 ms
// heartbeat, 1 s election timeout, fsync on).
type etcdSys struct {
	procs   []*proc
	clients []string // client URLs
}

func startEtcd(ctx context.Context, bin, dir string) (*etcdSys, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("e%d=http://127.0.0.1:%d", i+1, ports[i*2+1]))
	}
	e := &etcdSys{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i := range 3 {
		name := fmt.Sprintf("e%d", i+1)
		cu := "http://127.0.0.1:" + strconv.Itoa(ports[i*2])
		pu := "http://127.0.0.1:" + strconv.Itoa(ports[i*2+1])
		args := []string{"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", join(initial), "--initial-cluster-state", "new", "--log-level", "warn"}
		p, err := startProc(bin, args, filepath.Join(dir, name+".log"))
		if err != nil {
			e.stop()
			return nil, err
		}
		e.procs, e.clients = append(e.procs, p), append(e.clients, cu)
	}
	err = waitFor(60*time.Second, func() error {
		_, err := e.leader(ctx)
		return err
	})
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *etcdSys) name() string { return "etcd" }

func (e *etcdSys) stop() {
	for _, p := range e.procs {
		p.term()
	}
}

func (e *etcdSys) kill9(i int) error { return e.procs[i].kill() }

func (e *etcdSys) leader(ctx context.Context) (int, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.clients, DialTimeout: 2 * time.Second})
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	for i, u := range e.clients {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(c, u)
		cancel()
		if err != nil {
			return -1, err
		}
		if st.Leader == st.Header.MemberId {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no leader")
}

// etcdClient is one caller with its own connection to member i and, for
// lease-bound keys, its own lease kept alive.
type etcdClient struct {
	cli    *clientv3.Client
	lease  clientv3.LeaseID
	cancel context.CancelFunc
}

// etcdMinTTL is the TTL asked for lease-bound keys: etcd raises anything
// lower to its minimum (1.5 x election timeout, rounded up: 2 s with the
// defaults).
const etcdMinTTL = 1

func (e *etcdSys) newClient(ctx context.Context, i int) (client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.clients[i]}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &etcdClient{cli: cli}, nil
}

func (c *etcdClient) ensureLease(ctx context.Context) error {
	if c.lease != 0 {
		return nil
	}
	g, err := c.cli.Grant(ctx, etcdMinTTL)
	if err != nil {
		return err
	}
	kctx, cancel := context.WithCancel(context.Background())
	ka, err := c.cli.KeepAlive(kctx, g.ID)
	if err != nil {
		cancel()
		return err
	}
	go func() {
		for range ka {
		}
	}()
	c.lease, c.cancel = g.ID, cancel
	return nil
}

func (c *etcdClient) register(ctx context.Context, key string, lease bool) error {
	if !lease {
		_, err := c.cli.Put(ctx, key, "v")
		return err
	}
	if err := c.ensureLease(ctx); err != nil {
		return err
	}
	_, err := c.cli.Put(ctx, key, "v", clientv3.WithLease(c.lease))
	return err
}

func (c *etcdClient) lookup(ctx context.Context, key string, consistent bool) (bool, error) {
	var opts []clientv3.OpOption
	if !consistent {
		opts = append(opts, clientv3.WithSerializable())
	}
	r, err := c.cli.Get(ctx, key, opts...)
	if err != nil {
		return false, err
	}
	return len(r.Kvs) > 0, nil
}

func (c *etcdClient) watch(ctx context.Context, prefix string) (<-chan string, error) {
	wc := c.cli.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithFilterDelete())
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		for r := range wc {
			for _, ev := range r.Events {
				ch <- string(ev.Kv.Key)
			}
		}
	}()
	return ch, nil
}

// die stops keeping the lease alive, as a killed holder would.
func (c *etcdClient) die() {
	if c.cancel != nil {
		c.cancel()
	}
	c.cli.Close()
}

func (c *etcdClient) close() { c.die() }
