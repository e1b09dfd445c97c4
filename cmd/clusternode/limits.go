package main

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/roster-dev/roster/node"
)

// limitsConfig holds the daemon's bounds on what HTTP clients can grow.
// Every field is a flag (limits_flags.go) documented in README.md; zero
// means the default below, never "unbounded".
type limitsConfig struct {
	// MaxProcesses caps processes spawned over HTTP on this node (429
	// too_many_processes). Default 10000.
	MaxProcesses int
	// MaxProcessesPerToken caps those of one ACL token (ACLs on). Default 1000.
	MaxProcessesPerToken int
	// MailboxLimit bounds the mailbox of each process spawned over HTTP, in
	// messages; a send to a full one gets 429 mailbox_full. Default 1000.
	MailboxLimit int
	// MaxWatches caps open watch (SSE) streams on this node, MaxWatchesPerToken
	// those of one token (429 too_many_watches). Defaults 1000 and 64.
	MaxWatches, MaxWatchesPerToken int
	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout its
	// body (408 body_timeout), WriteTimeout each write of a response (a
	// client that stops reading is cut off), IdleTimeout a keep-alive
	// connection between requests. Defaults 10s, 10s, 30s, 60s.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConns caps open HTTP connections; further ones wait in the
	// kernel's accept queue (using no descriptor) until one closes.
	// Default 512.
	MaxConns int
}

// defaultLimits are the bounds when no flag says otherwise.
func defaultLimits() limitsConfig {
	return limitsConfig{
		MaxProcesses: 10000, MaxProcessesPerToken: 1000, MailboxLimit: 1000,
		MaxWatches: 1000, MaxWatchesPerToken: 64,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second,
		MaxConns: 512,
	}
}

// Errors of the bounds (mapped to 429 by writeError).
var (
	errTooManyProcesses = errors.New("clusternode: process limit reached")
	errTooManyWatches   = errors.New("clusternode: watch stream limit reached")
	errBodyTimeout      = errors.New("clusternode: request body not received in time")
)

// limits counts what the bounds apply to and what was refused. Safe for
// concurrent use; mu guards the watch counts only.
type limits struct {
	cfg limitsConfig

	mu            sync.Mutex
	watches       int
	watchPerToken map[string]int

	conns   atomic.Int64
	refused sync.Map // code -> *atomic.Uint64
}

func newLimits(cfg limitsConfig) *limits {
	return &limits{cfg: cfg, watchPerToken: map[string]int{}}
}

// denied counts a refused request by its error code (for
// roster_http_refused_total). A nil *limits counts nothing.
func (l *limits) denied(code string) {
	if l == nil {
		return
	}
	c, ok := l.refused.Load(code)
	if !ok {
		c, _ = l.refused.LoadOrStore(code, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

// acquireWatch takes a watch slot for owner (one ACL token; "" with ACLs
// off is bound only by the total). The release func gives it back.
func (l *limits) acquireWatch(owner string, perToken bool) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watches >= l.cfg.MaxWatches {
		return nil, fmt.Errorf("%w: %d streams open on this node (-max-watches)", errTooManyWatches, l.watches)
	}
	if perToken && l.watchPerToken[owner] >= l.cfg.MaxWatchesPerToken {
		return nil, fmt.Errorf("%w: token %q has %d streams open (-max-watches-per-token)",
			errTooManyWatches, owner, l.watchPerToken[owner])
	}
	l.watches++
	l.watchPerToken[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.watches--
			if l.watchPerToken[owner]--; l.watchPerToken[owner] == 0 {
				delete(l.watchPerToken, owner)
			}
			l.mu.Unlock()
		})
	}, nil
}

func (l *limits) openWatches() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.watches
}

var limitDescs = struct{ refused, conns, watches *prometheus.Desc }{
	refused: rosterDesc("http_refused_total",
		"HTTP requests refused by an ACL, browser or bound check, by error code (token_required, "+
			"permission_denied, mailbox_full, too_many_processes, ...).", "code"),
	conns:   rosterDesc("http_connections", "Open HTTP API connections."),
	watches: rosterDesc("http_watches", "Open watch (SSE) streams."),
}

// limitsCollector exports the counts at each scrape.
type limitsCollector struct{ l *limits }

func (c limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- limitDescs.refused
	ch <- limitDescs.conns
	ch <- limitDescs.watches
}

func (c limitsCollector) Collect(ch chan<- prometheus.Metric) {
	var codes []string
	c.l.refused.Range(func(k, _ any) bool { codes = append(codes, k.(string)); return true })
	sort.Strings(codes)
	for _, code := range codes {
		v, _ := c.l.refused.Load(code)
		ch <- prometheus.MustNewConstMetric(limitDescs.refused, prometheus.CounterValue,
			float64(v.(*atomic.Uint64).Load()), code)
	}
	ch <- prometheus.MustNewConstMetric(limitDescs.conns, prometheus.GaugeValue, float64(c.l.conns.Load()))
	ch <- prometheus.MustNewConstMetric(limitDescs.watches, prometheus.GaugeValue, float64(c.l.openWatches()))
}

// bodyDeadline bounds the time to receive a request's body
// (cfg.ReadTimeout, counted from the end of the headers), and each write
// of the response (cfg.WriteTimeout, renewed at every write, so that a
// watch stream or long-poll may last while a client that stops reading is
// cut off). http.Server.ReadTimeout cannot do the first: it would also
// cancel every long-poll and stream once it passed.
func (l *limits) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if l.cfg.ReadTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(l.cfg.ReadTimeout))
			r.Body = &deadlineBody{body: r.Body, rc: rc}
		}
		if l.cfg.WriteTimeout > 0 {
			dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: l.cfg.WriteTimeout}
			dw.renew() // a deadline left by an earlier request on this connection
			w = dw
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody clears the read deadline once the body was read, so that
// the server's watch for a gone client keeps working during a long
// request, and turns a deadline hit into errBodyTimeout.
type deadlineBody struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && !b.done {
		b.done = true
		if isTimeout(err) {
			return n, fmt.Errorf("%w: %v", errBodyTimeout, err)
		}
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// deadlineWriter renews the write deadline before every write.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) renew() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *deadlineWriter) WriteHeader(code int) { w.renew(); w.ResponseWriter.WriteHeader(code) }

func (w *deadlineWriter) Write(p []byte) (int, error) { w.renew(); return w.ResponseWriter.Write(p) }

func (w *deadlineWriter) Flush() { w.renew(); _ = w.rc.Flush() }

// Unwrap lets http.ResponseController reach the real writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// mailboxBounder is an optional ability of a backend, found by type
// assertion: it bounds the mailbox of every process Spawn starts from now
// on to n messages (a full one refuses new messages: errMailboxFull).
// The agent calls it once, before serving.
type mailboxBounder interface {
	boundMailboxes(n int)
}

var _ mailboxBounder = (*nodeBackend)(nil)

// boundMailboxes is called before the API serves, so no Spawn races it.
func (b *nodeBackend) boundMailboxes(n int) {
	b.mailbox = node.MailboxConfig{Limit: n, Policy: node.DropNewest}
}
