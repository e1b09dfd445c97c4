package cluster

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// procExitTimeout bounds waiting for an agent to exit after SIGKILL, and
// procLeaveTimeout after SIGTERM (the agent drains HTTP for up to 5 s and
// leaves for up to 20 s).
const (
	procExitTimeout  = 10 * time.Second
	procLeaveTimeout = 40 * time.Second
)

// procNode is one clusternode agent process and what survives its
// restarts: name, data directory and ports.
type procNode struct {
	name    string
	dataDir string
	ports   procPorts
	api     *procAPI
	args    []string // agent flags, the same on every start

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process exited
	err    error         // its exit status
	paused bool          // SIGSTOPped and not yet continued
}

// start runs the agent; it must not be running.
func (n *procNode) start(bin string, log *procLog) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running() {
		return fmt.Errorf("%w: %s", ErrProcRunning, n.name)
	}
	cmd := exec.Command(bin, append([]string{"agent"}, n.args...)...)
	w := log.writer(n.name)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting agent %s: %w", n.name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done, n.err, n.paused = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether a process was started and has not exited. n.mu
// must be held.
func (n *procNode) running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Running reports whether the agent process is up (paused counts as up).
func (n *procNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running()
}

// signal sends sig to the running process.
func (n *procNode) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running() {
		return fmt.Errorf("%w: %s", ErrProcNotRunning, n.name)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: %v: %w", n.name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	return nil
}

// wait waits up to d for the process to exit and returns its exit status.
func (n *procNode) wait(d time.Duration) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.err
	case <-time.After(d):
		return fmt.Errorf("agent %s did not exit within %v", n.name, d)
	}
}

// kill sends SIGKILL (after SIGCONT if paused) and waits for the exit.
func (n *procNode) kill() error {
	n.mu.Lock()
	paused := n.paused
	n.mu.Unlock()
	if paused {
		_ = n.signal(syscall.SIGCONT)
	}
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	_ = n.wait(procExitTimeout) // "signal: killed" is the expected status
	if n.Running() {
		return fmt.Errorf("agent %s survived SIGKILL for %v", n.name, procExitTimeout)
	}
	return nil
}

// term sends SIGTERM (a graceful leave) and waits for a clean exit.
func (n *procNode) term() error {
	if err := n.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := n.wait(procLeaveTimeout); err != nil {
		return fmt.Errorf("agent %s after SIGTERM: %w", n.name, err)
	}
	return nil
}
