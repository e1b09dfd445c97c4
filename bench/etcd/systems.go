package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// system is one side of the comparison, driven by the same harness.
// Node 0..2 are the members; leader returns the index of the leader.
type system interface {
	name() string
	leader(ctx context.Context) (int, error)
	// newClient returns a client bound to member i (its own connection).
	newClient(ctx context.Context, i int) (client, error)
	// kill9 SIGKILLs member i.
	kill9(i int) error
	stop()
}

// client is one caller. Every method is one round trip.
type client interface {
	// register binds key to this client's liveness (Roster: a name owned
	// by the client's process; etcd: a plain put, or with lease a key on
	// the client's lease).
	register(ctx context.Context, key string, lease bool) error
	// lookup reads key: local replica / serializable, or leader-verified
	// / linearizable.
	lookup(ctx context.Context, key string, consistent bool) (bool, error)
	// watch streams the keys with prefix registered from now on.
	watch(ctx context.Context, prefix string) (<-chan string, error)
	close()
}

// proc is a child process we started.
type proc struct {
	cmd *exec.Cmd
}

func startProc(bin string, args []string, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); f.Close() }()
	return &proc{cmd: cmd}, nil
}

func (p *proc) kill() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

func (p *proc) term() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for p.cmd.ProcessState == nil {
			time.Sleep(20 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.kill()
	}
}

// freePorts returns n free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitFor polls fn until it succeeds or d passes.
func waitFor(d time.Duration, fn func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func join(parts []string) string { return strings.Join(parts, ",") }
