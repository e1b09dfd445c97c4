package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testLogger sends hclog output to t.Log, so passing runs are quiet.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   t.Name(),
		Level:  hclog.Debug,
		Output: tbWriter{t},
	})
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond until it returns nil or the deadline passes, then
// fails with the last error.
func waitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder is a Handler that records everything it is given.
type recorder struct {
	mu        sync.Mutex
	envs      []*Envelope
	events    []string // "up node inc" / "down node inc"
	causes    []error
	cancelled int // requests whose ctx ended before the handler returned
	blocked   int // "block" requests started
	deadlines []time.Duration
	release   chan struct{} // "block" requests wait on it
	onEnv     func(*Envelope)
}

func newRecorder() *recorder { return &recorder{release: make(chan struct{})} }

func (r *recorder) HandleEnvelope(from NodeID, env *Envelope) {
	if r.onEnv != nil {
		r.onEnv(env)
		return
	}
	e := *env // env is only valid during the call
	e.Body = append([]byte(nil), env.Body...)
	r.mu.Lock()
	r.envs = append(r.envs, &e)
	r.mu.Unlock()
}

func (r *recorder) HandleRequest(ctx context.Context, from NodeID, method string, body []byte) ([]byte, error) {
	if d, ok := ctx.Deadline(); ok {
		r.mu.Lock()
		r.deadlines = append(r.deadlines, time.Until(d))
		r.mu.Unlock()
	}
	switch method {
	case "echo":
		return body, nil
	case "whoami":
		return []byte(from), nil
	case "fail":
		return nil, errors.New("boom: " + string(body))
	case "block":
		r.mu.Lock()
		r.blocked++
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.cancelled++
			r.mu.Unlock()
			return nil, ctx.Err()
		case <-r.release:
			return []byte("released"), nil
		}
	}
	return nil, fmt.Errorf("unknown method %q", method)
}

func (r *recorder) PeerUp(peer NodeID, inc uint64) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("up %s %d", peer, inc))
	r.mu.Unlock()
}

func (r *recorder) PeerDown(peer NodeID, inc uint64, cause error) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("down %s %d", peer, inc))
	r.causes = append(r.causes, cause)
	r.mu.Unlock()
}

func (r *recorder) envelopes() []*Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Envelope(nil), r.envs...)
}

func (r *recorder) eventList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) lastCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.causes) == 0 {
		return nil
	}
	return r.causes[len(r.causes)-1]
}

func (r *recorder) blockedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blocked
}

func (r *recorder) cancelCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled
}

// hasEvent reports whether ev was recorded.
func (r *recorder) hasEvent(ev string) error {
	for _, e := range r.eventList() {
		if e == ev {
			return nil
		}
	}
	return fmt.Errorf("no event %q in %v", ev, r.eventList())
}
