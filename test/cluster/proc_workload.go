package cluster

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"sync"
	"time"

	"github.com/roster-dev/roster/transport"
)

// procAck is a registration the cluster acknowledged (201).
type procAck struct {
	Name  string
	PID   transport.PID
	Fence float64
}

// procWorkload registers fresh names for fresh processes on random running
// nodes and looks up acknowledged names on random running nodes, from a
// few goroutines, until stopped. It records every acknowledged
// registration and every lookup that contradicts one (a name is never
// registered twice, so a lookup may only show its one owner or nothing).
type procWorkload struct {
	c *procCluster

	mu         sync.Mutex
	acks       []procAck
	ackedAt    []time.Time // when each registration's 201 arrived, in order
	failed     int         // spawns and registrations without a 201
	lookups    int
	violations []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// procWorkloadPace is the pause between one worker's operations: enough to
// keep two loaded cores responsive.
const procWorkloadPace = 15 * time.Millisecond

// startProcWorkload starts workers goroutines with seeds seed, seed+1, ...
func startProcWorkload(c *procCluster, workers int, seed int64) *procWorkload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &procWorkload{c: c, cancel: cancel}
	for k := range workers {
		w.wg.Add(1)
		go w.run(ctx, k, rand.New(rand.NewSource(seed+int64(k))))
	}
	return w
}

// stop ends the workers and waits for them.
func (w *procWorkload) stop() {
	w.cancel()
	w.wg.Wait()
}

func (w *procWorkload) run(ctx context.Context, k int, r *rand.Rand) {
	defer w.wg.Done()
	tick := time.NewTicker(procWorkloadPace)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		running := w.c.Running()
		if len(running) == 0 {
			continue
		}
		api := w.c.API(running[r.Intn(len(running))])
		if seq%2 == 0 {
			w.register(ctx, api, fmt.Sprintf("roll-%d-%d", k, seq))
		} else {
			w.lookup(ctx, api, r)
		}
	}
}

func (w *procWorkload) register(ctx context.Context, api *procAPI, name string) {
	pid, fence, err := procRegister(ctx, api, name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failed++ // node restarting, or an outcome we cannot know: not acknowledged
		return
	}
	p, err := transport.ParsePID(pid)
	if err != nil {
		w.violations = append(w.violations, fmt.Sprintf("register %s: bad pid %q: %v", name, pid, err))
		return
	}
	w.acks = append(w.acks, procAck{Name: name, PID: p, Fence: fence})
	w.ackedAt = append(w.ackedAt, time.Now())
}

// longestWriteGap returns the longest time within [from, to] during which
// no registration was acknowledged anywhere, and when it began: the
// cluster's worst write unavailability as the workload saw it.
func (w *procWorkload) longestWriteGap(from, to time.Time) (gap time.Duration, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := from
	for _, t := range append(append([]time.Time(nil), w.ackedAt...), to) {
		if t.Before(from) {
			continue
		}
		if t.After(to) {
			t = to
		}
		if d := t.Sub(prev); d > gap {
			gap, at = d, prev
		}
		prev = t
	}
	return gap, at
}

func (w *procWorkload) lookup(ctx context.Context, api *procAPI, r *rand.Rand) {
	w.mu.Lock()
	if len(w.acks) == 0 {
		w.mu.Unlock()
		return
	}
	ack := w.acks[r.Intn(len(w.acks))]
	w.mu.Unlock()
	a, err := api.lookup(ctx, ack.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		return
	}
	w.lookups++
	if a.Status == http.StatusOK && (a.str("pid") != ack.PID.String() || a.Body["fence"] != ack.Fence) {
		w.violations = append(w.violations, fmt.Sprintf("lookup %s on %s: %v, acknowledged %s fence %v",
			ack.Name, api.base, a.Body, ack.PID, ack.Fence))
	}
}

// snapshot returns the acknowledged registrations and violations so far.
func (w *procWorkload) snapshot() (acks []procAck, failed, lookups int, violations []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]procAck(nil), w.acks...), w.failed, w.lookups, append([]string(nil), w.violations...)
}
