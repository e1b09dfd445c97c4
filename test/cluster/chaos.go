package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/global"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// ChaosOptions shape one chaos run. Zero fields take the defaults shown.
type ChaosOptions struct {
	// Seed drives the nemesis and the clients; the same seed replays the
	// same fault and operation choices (timing still varies).
	Seed uint64
	// Nodes is the cluster size. Default 3.
	Nodes int
	// Duration is how long clients and nemesis run. Default 20 s.
	Duration time.Duration
	// ClientsPerNode is how many client processes each node runs. Default 2.
	ClientsPerNode int
	// Names is the size of the name space; small, so operations conflict.
	// Default 8.
	Names int
	// Faults is the nemesis's menu. Default AllFaults.
	Faults []FaultKind
	// OpTimeout bounds each client operation; a write that times out has
	// an unknown outcome. Default 3 s.
	OpTimeout time.Duration
	// Pause is the most a client waits between operations. Default 20 ms.
	Pause time.Duration
	// PurgeBound is how soon a killed node's names must be gone from every
	// survivor. Default 10 s (fast profile: ~1.5 s detection, 250 ms grace,
	// plus an election if the leader died, with room for -race on 2 cores).
	PurgeBound time.Duration
	// CutGrace is how long after a cut healed a purge of a node it cut
	// off is still explained by it (the leader may have decided the purge
	// just before the heal). Default 3 s: the fast profile's purge grace
	// (250 ms) plus a Raft commit and an election, with room for -race.
	CutGrace time.Duration
	// CheckTimeout bounds porcupine. Default 60 s. A timeout is reported,
	// and counted as a violation when Strict.
	CheckTimeout time.Duration
	// Strict makes a run that could not be checked fail: an incomplete
	// (compacted) event log, porcupine's Unknown (timeout), or a name with
	// fewer than MinAcked acknowledged writes (a run where nothing got
	// through proves nothing). The CI seeds and the soak are strict.
	Strict bool
	// MinAcked is the fewest acknowledged writes (register, re-register,
	// unregister with outcome ok) each name needs in a Strict run.
	// Default 3.
	MinAcked int
}

func (o *ChaosOptions) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.ClientsPerNode <= 0 {
		o.ClientsPerNode = 2
	}
	if o.Names <= 0 {
		o.Names = 8
	}
	if len(o.Faults) == 0 {
		o.Faults = AllFaults
	}
	def(&o.Duration, 20*time.Second)
	def(&o.OpTimeout, 3*time.Second)
	def(&o.Pause, 20*time.Millisecond)
	def(&o.PurgeBound, 10*time.Second)
	def(&o.CutGrace, 3*time.Second)
	if o.MinAcked <= 0 {
		o.MinAcked = 3
	}
	def(&o.CheckTimeout, time.Minute)
}

// run is the state of one chaos run.
type run struct {
	o     ChaosOptions
	c     *Cluster
	h     *History
	ev    *eventLog
	w     *workload
	nem   *nemesis
	names map[string]bool
	r     *rand.Rand

	runCtx, bgCtx context.Context
	clients       sync.WaitGroup
	watchers      sync.WaitGroup
}

// RunChaos runs one seeded chaos scenario: clients register, re-register,
// unregister, look up (consistently) and send by fenced name while the
// nemesis kills, freezes and partitions nodes; then it heals, and checks
// the history for linearizability and the other invariants (see Report).
// Violations fail t; the figures are returned for printing.
func RunChaos(t testing.TB, o ChaosOptions) Report {
	t.Helper()
	o.fill()
	c := New(t, Options{Nodes: o.Nodes})
	r := &run{o: o, c: c, h: NewHistory(), names: map[string]bool{}, r: rand.New(rand.NewPCG(o.Seed, 0x5eed))}
	r.ev = newEventLog(r.h)
	var nameList []string
	for i := 0; i < o.Names; i++ {
		n := fmt.Sprintf("name-%d", i)
		nameList, r.names[n] = append(nameList, n), true
	}
	r.w = newWorkload(c, r.h, nameList, o.OpTimeout, o.Pause)
	bg, stopBG := context.WithCancel(context.Background())
	defer func() { stopBG(); r.watchers.Wait() }()
	runCtx, stopRun := context.WithTimeout(bg, o.Duration)
	defer stopRun()
	r.runCtx, r.bgCtx = runCtx, bg
	r.nem = &nemesis{c: c, h: r.h, r: rand.New(rand.NewPCG(o.Seed, 0xfa17)), faults: o.Faults,
		hold: [2]time.Duration{time.Second, 3 * time.Second}, quiet: [2]time.Duration{500 * time.Millisecond, 1500 * time.Millisecond},
		bound: o.PurgeBound, started: r.started, zombies: r.w.takeZombies, cuts: cutLog{}, killed: map[incarnation]int64{}}
	for _, i := range c.Running() {
		r.started(i, c.Node(i))
	}
	r.nem.run(runCtx)
	r.clients.Wait()
	rep := r.finish(t)
	rep.print(t)
	return rep
}

// started begins following a (re)started node: a watch chain and clients.
func (r *run) started(slot int, nd *cnode.Node) {
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		r.ev.follow(r.bgCtx, slot, nd)
	}()
	if r.runCtx.Err() != nil {
		return
	}
	for k := 0; k < r.o.ClientsPerNode; k++ {
		if err := r.w.spawnClient(r.runCtx, slot, nd, r.r.Uint64(), &r.clients); err != nil {
			r.nem.logf("client on %s: %v", nd.ID(), err)
		}
	}
}

// finish heals, lets the cluster converge, reads every name consistently,
// and runs the checks.
func (r *run) finish(t testing.TB) Report {
	rep := Report{Seed: r.o.Seed, Nodes: r.o.Nodes, Duration: r.o.Duration}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := r.c.WaitHealthy(30 * time.Second); err != nil {
		rep.Violations = append(rep.Violations, fmt.Sprintf("cluster stuck after heal: %v", err))
	} else if err := r.c.WaitConverged(ctx, 30*time.Second); err != nil {
		rep.Violations = append(rep.Violations, fmt.Sprintf("replicas did not converge: %v", err))
	}
	r.finalReads(ctx)
	complete := r.ev.complete()
	if l := r.c.Leader(); l >= 0 && r.ev.catchUp(ctx, r.c.Node(l)) {
		complete = true
	}
	rep.Violations = append(rep.Violations, r.c.checkReplicas(ctx)...)
	evs := r.ev.sorted()
	ops := r.h.Operations()
	r.nem.mu.Lock()
	cuts, killed := r.nem.cuts, r.nem.killed
	rep.Purges, rep.Failovers, rep.Nemesis = r.nem.purges, r.nem.failover, r.nem.log
	rep.Violations = append(rep.Violations, r.nem.slow...)
	r.nem.mu.Unlock()
	r.w.mu.Lock()
	deliveries := r.w.deliveries
	rep.Counts, rep.Sends, rep.Delivered = r.w.counts, r.w.sends, r.w.delivered
	r.w.mu.Unlock()
	rep.Ops, rep.OpsPerSec, rep.Unavailable = len(ops), float64(len(ops))/r.o.Duration.Seconds(), longestGap(ops, r.o.Duration)
	if !complete {
		rep.Unchecked = "event log incomplete (compacted); linearizability and event checks skipped"
	} else {
		rep.Violations = append(rep.Violations, checkEvents(evs, ops, r.names, cuts, int64(r.o.CutGrace), killed)...)
		all := append(ops, removalOps(evs, ops, r.names)...)
		cr := CheckLinearizable(all, r.o.CheckTimeout, fmt.Sprintf("chaos-seed-%d", r.o.Seed))
		rep.Linearizable, rep.Checked = cr.Result, cr.Ops
		if cr.Result == porcupine.Illegal {
			rep.Violations = append(rep.Violations, fmt.Sprintf("history not linearizable (artifact %s):\n%s", cr.Artifact, cr.Detail))
		}
	}
	if r.o.Strict {
		rep.Violations = append(rep.Violations, strictChecks(rep, ops, r.names, r.o.MinAcked)...)
	}
	bad, reused := checkDeliveries(deliveries, evs)
	rep.Violations = append(rep.Violations, bad...)
	rep.FenceReuse, rep.Misrouted = fenceReuse(evs), reused
	return rep
}

// finalReads adds a consistent read of every workload name, after the
// cluster healed, to the history.
func (r *run) finalReads(ctx context.Context) {
	l := r.c.Leader()
	if l < 0 {
		return
	}
	nd := r.c.Node(l)
	for name := range r.names {
		call := r.h.Now()
		reg, _, err := nd.LookupGlobal(ctx, name, global.Consistent)
		ret := r.h.Now()
		if res, ok := classify(err); ok && (res.Result == ResOK || res.Result == ResNotFound) {
			res.Owner, res.Fence = reg.Owner, reg.Fence
			r.h.Add(-2, Input{Kind: OpLookup, Name: name}, call, res, ret)
		}
	}
}
