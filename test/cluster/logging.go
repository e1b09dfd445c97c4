package cluster

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// LogEnv names the environment variable that streams cluster logs to t.Log
// as they happen ("debug", "info", "warn"). Unset: logs are kept in a ring
// of the last logRingLines lines and written to t.Log only if the test
// fails, so a passing run is quiet.
const LogEnv = "ROSTER_CHAOS_LOG"

// logRingLines bounds the log lines kept for a failing test's dump.
const logRingLines = 4000

// testLog is an io.Writer for hclog that buffers lines for t.Log.
type testLog struct {
	t    testing.TB
	live bool

	mu    sync.Mutex
	lines []string
	next  int
	full  bool
	done  bool
}

// newTestLog returns the log sink and the level to log at. It registers a
// cleanup that dumps the ring if t failed.
func newTestLog(t testing.TB) (*testLog, hclog.Level) {
	l := &testLog{t: t, lines: make([]string, logRingLines)}
	level := hclog.Info
	if v := os.Getenv(LogEnv); v != "" {
		l.live, level = true, hclog.LevelFromString(v)
		if level == hclog.NoLevel {
			level = hclog.Debug
		}
	}
	t.Cleanup(l.dump)
	return l, level
}

func (l *testLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(bytes.Clone(p)), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil // t.Log after the test ended panics
	}
	if l.live {
		l.t.Log(line)
		return len(p), nil
	}
	l.lines[l.next] = line
	l.next = (l.next + 1) % len(l.lines)
	l.full = l.full || l.next == 0
	return len(p), nil
}

// dump writes the buffered lines to t.Log when the test failed, and stops
// further logging to t.
func (l *testLog) dump() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	if l.live || !l.t.Failed() {
		return
	}
	var b strings.Builder
	emit := func(s string) {
		if s != "" {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	if l.full {
		b.WriteString("(earlier log lines dropped)\n")
		for _, s := range l.lines[l.next:] {
			emit(s)
		}
	}
	for _, s := range l.lines[:l.next] {
		emit(s)
	}
	l.t.Logf("cluster log (last %d lines):\n%s", logRingLines, b.String())
}

// logger returns an hclog logger named name writing to l.
func (l *testLog) logger(name string, level hclog.Level) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: l, TimeFormat: "15:04:05.000"})
}
