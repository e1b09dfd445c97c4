package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Errors of the multi-process and docker-compose harnesses.
var (
	// ErrProcNoBinary: the clusternode binary could not be built.
	ErrProcNoBinary = errors.New("cluster: clusternode binary not built")
	// ErrProcNotRunning: the agent process is not running (killed, exited).
	ErrProcNotRunning = errors.New("cluster: agent process not running")
	// ErrProcRunning: the agent process is already running.
	ErrProcRunning = errors.New("cluster: agent process already running")
	// ErrProcAPI is wrapped by every unexpected answer of an agent's HTTP
	// API.
	ErrProcAPI = errors.New("cluster: unexpected API answer")
	// ErrComposeUnavailable: no Docker engine or docker-compose to use, or
	// the host ports docker-compose.yml publishes are busy; TestCompose
	// skips with it.
	ErrComposeUnavailable = errors.New("cluster: docker-compose harness unavailable")
)

// procBuildTimeout bounds `go build` of the daemon (a cold build on two
// loaded cores takes ~40 s).
const procBuildTimeout = 4 * time.Minute

// procBin builds the clusternode binary once per test binary into a
// directory that proc_main_test.go's TestMain removes at exit.
var procBin struct {
	once sync.Once
	dir  string // set by TestMain before any test runs
	path string
	err  error
}

// procBinary returns the path of the static clusternode binary, building it
// on first use (CGO_ENABLED=0, like the Docker image).
func procBinary() (string, error) {
	procBin.once.Do(func() {
		dir := procBin.dir
		if dir == "" {
			procBin.err = fmt.Errorf("%w: no build directory (TestMain did not run)", ErrProcNoBinary)
			return
		}
		root, err := procRepoRoot()
		if err != nil {
			procBin.err = err
			return
		}
		out := filepath.Join(dir, "clusternode")
		if runtime.GOOS == "windows" {
			out += ".exe"
		}
		ctx, cancel := context.WithTimeout(context.Background(), procBuildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/clusternode")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			procBin.err = fmt.Errorf("%w: go build: %v: %s", ErrProcNoBinary, err, strings.TrimSpace(string(msg)))
			return
		}
		procBin.path = out
	})
	return procBin.path, procBin.err
}

// procRepoRoot finds the module root (the directory holding go.mod) above
// the package directory tests run in.
func procRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrProcNoBinary, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod above the test directory", ErrProcNoBinary)
		}
		dir = parent
	}
}
