package cluster

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
)

// ProcLogEnv names the environment variable that streams the agents'
// output to t.Log as it arrives (any non-empty value). Unset, the last
// procLogLines lines are kept and written to t.Log only if the test fails,
// so a passing run is quiet.
const ProcLogEnv = "ROSTER_PROC_LOG"

// procLogLines bounds the agent log lines kept for a failing test's dump.
const procLogLines = 3000

// procLog collects the stderr of every agent of a test, one line at a
// time, each prefixed with the node's name.
type procLog struct {
	t    testing.TB
	live bool

	mu    sync.Mutex
	lines []string // ring of the last procLogLines lines
	next  int
	full  bool
	done  bool // the test ended: t.Log would panic
}

// newProcLog returns the sink; its cleanup (registered first, so it runs
// after the agents were killed) dumps the ring if t failed.
func newProcLog(t testing.TB) *procLog {
	l := &procLog{t: t, live: os.Getenv(ProcLogEnv) != "", lines: make([]string, procLogLines)}
	t.Cleanup(l.dump)
	return l
}

// writer returns an io.Writer for one agent's output.
func (l *procLog) writer(name string) *procLogWriter {
	return &procLogWriter{l: l, prefix: name + " | "}
}

func (l *procLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	if l.live {
		l.t.Log(line)
		return
	}
	l.lines[l.next] = line
	l.next = (l.next + 1) % len(l.lines)
	l.full = l.full || l.next == 0
}

func (l *procLog) dump() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	if l.live || !l.t.Failed() {
		return
	}
	var b strings.Builder
	if l.full {
		b.WriteString("(earlier lines dropped)\n")
		for _, s := range l.lines[l.next:] {
			b.WriteString(s + "\n")
		}
	}
	for _, s := range l.lines[:l.next] {
		b.WriteString(s + "\n")
	}
	l.t.Logf("agent logs:\n%s", b.String())
}

// procLogWriter splits one agent's output into lines. exec.Cmd copies the
// pipe from a single goroutine, so Write is not called concurrently.
type procLogWriter struct {
	l       *procLog
	prefix  string
	partial []byte
}

func (w *procLogWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.l.add(w.prefix + string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}
