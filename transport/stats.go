package transport

import "sync/atomic"

// Stats are a transport's counters since it was created. Both TCPTransport
// and InmemTransport report them (Stats method); the daemon exports them.
type Stats struct {
	// Dropped counts envelopes the transport accepted (Send or TrySend
	// returned nil) and then discarded: queued for a connection that broke
	// or could not be opened, for a peer that was removed or restarted, or
	// arriving with no Handler installed (in-memory: also lost to injected
	// faults). Delivery is at most once; this is the "at most" part.
	Dropped uint64
	// AcceptErrors counts failed Accept calls on the listener (TCP only).
	// Each is followed by a backoff; see Health.
	AcceptErrors uint64
	// HandshakesPending is the number of inbound connections now in their
	// handshake; HandshakesEvicted counts those closed to make room for a
	// newer one (see Config.MaxPendingHandshakes); HandshakesRefused counts
	// inbound handshakes that failed (wrong key, version or cluster,
	// timeouts, evictions). TCP only.
	HandshakesPending int
	HandshakesEvicted uint64
	HandshakesRefused uint64
}

// StatsReporter is implemented by both transports; callers find it by type
// assertion on a Transport.
type StatsReporter interface {
	Stats() Stats
}

var (
	_ StatsReporter = (*TCPTransport)(nil)
	_ StatsReporter = (*InmemTransport)(nil)
)

// counters are the atomic counters behind Stats.
type counters struct {
	dropped atomic.Uint64
	evicted atomic.Uint64
	refused atomic.Uint64
}

// Stats returns the transport's counters.
func (t *TCPTransport) Stats() Stats {
	return Stats{
		Dropped:           t.stats.dropped.Load(),
		AcceptErrors:      t.accept.errors.Load(),
		HandshakesPending: t.pending.len(),
		HandshakesEvicted: t.stats.evicted.Load(),
		HandshakesRefused: t.stats.refused.Load(),
	}
}

// Health returns nil while the transport accepts inbound connections. After
// a failed Accept (EMFILE, ENFILE...) its accept loop backs off and retries;
// until an Accept succeeds, and for at most 2s after the last failure, Health
// returns an error wrapping ErrNotAccepting and that failure: peers cannot
// reach this node and their messages are being lost. A listener closed under
// the transport fails it for good. Call it from any goroutine; it does not
// block.
func (t *TCPTransport) Health() error {
	return t.accept.failing()
}

// Stats returns the transport's counters.
func (t *InmemTransport) Stats() Stats {
	return Stats{Dropped: t.stats.dropped.Load()}
}

// dropped counts n discarded envelopes.
func (t *TCPTransport) dropped(n int) {
	if n > 0 {
		t.stats.dropped.Add(uint64(n))
	}
}

// dropped counts n discarded envelopes.
func (t *InmemTransport) dropped(n int) {
	if n > 0 {
		t.stats.dropped.Add(uint64(n))
	}
}
