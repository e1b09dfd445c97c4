package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/roster-dev/roster/global"
)

// Lease timing: the rule that makes singletons and leaderships exactly-one.
//
// A node that runs lease-bound work (a singleton instance, a Campaign
// leadership) renews a node lease every Renew: global.Table.RenewLease, a
// round trip to the Raft leader, which confirms with a quorum that it still
// leads and records when it granted. The lease is valid on the node until
// Sent+Length by its own clock (Sent is taken before the request leaves).
// Lease-bound work is told to stop at Sent+Length-Stop and must have
// stopped by Sent+Length.
//
// The leader purges a dead node's names only once Length×(1+2ρ) has passed
// since its last grant to that node (its leadership start stands in for
// grants of earlier leaders), where ρ is ClockRate, the largest relative
// difference in clock rates between two nodes. The grant happened after
// Sent in real time, so by then the node's own clock has reached
// Sent+Length: its work stopped before the purge, and a successor, which
// starts only after the purge, never overlaps it. A cut-off node, paused
// node or one-way partition cannot renew, so its work stops on its own.
//
// Renewals go over the authenticated transport and cost one leader
// quorum round (heartbeats, no log write) per node per Renew, whatever the
// number of singletons.
type leaseTiming struct {
	Length    time.Duration
	Renew     time.Duration
	Stop      time.Duration // default stop budget of lease-bound work
	ClockRate float64       // ρ
}

// leaseTimingFor is the profile's lease timing (profile.go).
func leaseTimingFor(p Profile) leaseTiming { return p.timings().lease }

// successorWait is how long after a node's last lease grant the leader
// waits before purging its names.
func (lt leaseTiming) successorWait() time.Duration {
	return time.Duration(float64(lt.Length) * (1 + 2*lt.ClockRate))
}

// leaseKeeper renews this node's lease while something uses it, and
// confirms with the leader that the registrations it tracks are still
// current (a lost one is reported through lost()).
type leaseKeeper struct {
	n  *Node
	lt leaseTiming

	mu      sync.Mutex
	users   int
	running bool
	wake    chan struct{}     // cap 1: a user arrived
	until   time.Time         // lease valid until (monotonic)
	tracked map[string]uint64 // name -> fence of lease-bound registrations
	gone    map[string]uint64 // tracked registrations the leader said are not current
	changed chan struct{}     // closed and replaced after every renewal attempt
}

func newLeaseKeeper(n *Node) *leaseKeeper {
	return &leaseKeeper{n: n, lt: leaseTimingFor(n.cfg.Profile), wake: make(chan struct{}, 1),
		tracked: map[string]uint64{}, gone: map[string]uint64{}, changed: make(chan struct{})}
}

// acquire registers a user of the lease (starting the renewal loop on
// first use); release undoes it. Renewals stop while nobody uses the lease.
func (k *leaseKeeper) acquire() {
	k.mu.Lock()
	k.users++
	start := !k.running
	k.running = true
	k.mu.Unlock()
	if start {
		k.n.goTracked(k.run)
	}
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

func (k *leaseKeeper) release() {
	k.mu.Lock()
	k.users--
	k.mu.Unlock()
}

// track asks renewals to confirm (name, fence); untrack stops it.
func (k *leaseKeeper) track(name string, fence uint64) {
	k.mu.Lock()
	k.tracked[name] = fence
	delete(k.gone, name)
	k.mu.Unlock()
}

func (k *leaseKeeper) untrack(name string) {
	k.mu.Lock()
	delete(k.tracked, name)
	delete(k.gone, name)
	k.mu.Unlock()
}

// state reports until when the lease is valid, whether the leader said
// (name, fence) is no longer current, and a channel closed at the next
// renewal attempt.
func (k *leaseKeeper) state(name string, fence uint64) (until time.Time, lost bool, next <-chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f, gone := k.gone[name]
	return k.until, gone && f == fence, k.changed
}

// valid reports whether the lease runs for at least d more.
func (k *leaseKeeper) valid(d time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return time.Until(k.until) >= d
}

func (k *leaseKeeper) run() {
	t := time.NewTicker(k.lt.Renew)
	defer t.Stop()
	for {
		k.mu.Lock()
		idle := k.users == 0
		k.mu.Unlock()
		if !idle {
			k.renew()
		}
		select {
		case <-k.n.ctx.Done():
			k.mu.Lock()
			k.until = time.Time{}
			close(k.changed)
			k.changed = make(chan struct{})
			k.mu.Unlock()
			return
		case <-t.C:
		case <-k.wake:
		}
	}
}

// renew runs one renewal; a failure leaves the last grant's validity to
// run out.
func (k *leaseKeeper) renew() {
	k.mu.Lock()
	regs := make([]global.NameFence, 0, len(k.tracked))
	for name, f := range k.tracked {
		regs = append(regs, global.NameFence{Name: name, Fence: f})
	}
	k.mu.Unlock()
	// A renewal may take up to half the lease (a loaded leader, a leader
	// change): the lease itself, not this timeout, bounds what runs on it.
	ctx, cancel := context.WithTimeout(k.n.ctx, k.lt.Length/2)
	g, err := k.n.table.RenewLease(ctx, regs)
	cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil {
		k.until = g.Sent.Add(k.lt.Length)
		for i, r := range regs {
			if !g.Held[i] && k.tracked[r.Name] == r.Fence {
				k.gone[r.Name] = r.Fence
			}
		}
	} else {
		k.n.Logger().Debug("lease renewal failed", "error", err, "valid_for", time.Until(k.until))
	}
	close(k.changed)
	k.changed = make(chan struct{})
}
