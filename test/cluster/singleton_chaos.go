package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
)

// SingletonChaosOptions shape one singleton chaos run. Zero fields take
// the defaults shown.
type SingletonChaosOptions struct {
	// Seed drives the nemesis; the same seed replays the same faults.
	Seed uint64
	// Nodes is the cluster size. Default 3.
	Nodes int
	// Singletons is how many singletons every node is a candidate for.
	// Default 6 (spread over the nodes, so most faults hit an owner).
	Singletons int
	// Duration is how long the nemesis runs. Default 20 s.
	Duration time.Duration
	// Faults is the nemesis's menu. Default AllFaults.
	Faults []FaultKind
	// GapBound is the longest a singleton may have no running instance
	// while a majority is up (every fault here leaves one). Default 15 s:
	// the fast profile's kill failover (~2 s) with room for -race on two
	// busy cores.
	GapBound time.Duration
}

func (o *SingletonChaosOptions) fill() {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Singletons <= 0 {
		o.Singletons = 6
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if len(o.Faults) == 0 {
		o.Faults = AllFaults
	}
	if o.GapBound <= 0 {
		o.GapBound = 15 * time.Second
	}
}

// SingletonReport is what a singleton chaos run saw.
type SingletonReport struct {
	Seed      uint64
	Nodes     int
	Instances int // instances started, over all singletons
	// Overlaps lists pairs of instances of one singleton that ran at once:
	// the exactly-one guarantee broken.
	Overlaps []string
	// MaxGap is the longest stretch a singleton had no instance running;
	// Gaps lists those over GapBound.
	MaxGap time.Duration
	Gaps   []string
	// Fences lists singletons whose instances' fences did not grow in
	// start order.
	Fences     []string
	Violations []string
	Nemesis    []string
}

// Summary is the report's one-line figures.
func (r SingletonReport) Summary() string {
	return fmt.Sprintf("singletons: seed=%d nodes=%d instances=%d overlaps=%d max_gap=%v violations=%d",
		r.Seed, r.Nodes, r.Instances, len(r.Overlaps), r.MaxGap.Round(time.Millisecond), len(r.Violations))
}

// instanceRecord is one run of one singleton's instance, in history time.
type instanceRecord struct {
	singleton   string
	node        node.NodeID
	fence       uint64
	start, stop int64 // stop < 0: still running
}

// InstanceLog records singleton instances (a user's singleton can record
// into one too): Begin when the instance's body starts, the returned func
// when it returns.
type InstanceLog struct {
	h    *History
	mu   sync.Mutex
	runs []instanceRecord
}

// NewInstanceLog returns an empty log timed by h.
func NewInstanceLog(h *History) *InstanceLog { return &InstanceLog{h: h} }

// Begin records an instance of singleton starting on id with fence; call
// the returned func when it stops.
func (l *InstanceLog) Begin(singleton string, id node.NodeID, fence uint64) (end func()) {
	l.mu.Lock()
	l.runs = append(l.runs, instanceRecord{singleton: singleton, node: id, fence: fence, start: l.h.Now(), stop: -1})
	i := len(l.runs) - 1
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.runs[i].stop = l.h.Now()
		l.mu.Unlock()
	}
}

// Check reports overlaps (two instances of one singleton at once), the
// longest gap without an instance between first start and end (with those
// over bound), and fences that did not grow in start order.
func (l *InstanceLog) Check(end int64, bound time.Duration) (overlaps, gaps, fences []string, maxGap time.Duration) {
	l.mu.Lock()
	by := map[string][]instanceRecord{}
	for _, r := range l.runs {
		by[r.singleton] = append(by[r.singleton], r)
	}
	l.mu.Unlock()
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		runs := by[name]
		slices.SortFunc(runs, func(a, b instanceRecord) int { return int(a.start - b.start) })
		stopOf := func(r instanceRecord) int64 {
			if r.stop < 0 {
				return end
			}
			return r.stop
		}
		covered := runs[0].start
		for i, a := range runs {
			for _, b := range runs[i+1:] {
				if b.start < stopOf(a) {
					overlaps = append(overlaps, fmt.Sprintf("%s: %s@%d [%.3fs..%.3fs] and %s@%d [%.3fs..%.3fs]", name,
						a.node, a.fence, sec(a.start), sec(stopOf(a)), b.node, b.fence, sec(b.start), sec(stopOf(b))))
				}
			}
			if i > 0 && a.fence <= runs[i-1].fence {
				fences = append(fences, fmt.Sprintf("%s: instance on %s started at %.3fs with fence %d after fence %d",
					name, a.node, sec(a.start), a.fence, runs[i-1].fence))
			}
			if gap := time.Duration(a.start - covered); gap > 0 {
				maxGap = max(maxGap, gap)
				if gap > bound {
					gaps = append(gaps, fmt.Sprintf("%s: no instance for %v before %.3fs", name, gap.Round(time.Millisecond), sec(a.start)))
				}
			}
			covered = max(covered, stopOf(a))
		}
		if gap := time.Duration(end - covered); gap > 0 {
			maxGap = max(maxGap, gap)
			if gap > bound {
				gaps = append(gaps, fmt.Sprintf("%s: no instance for the last %v", name, gap.Round(time.Millisecond)))
			}
		}
	}
	return overlaps, gaps, fences, maxGap
}

func (l *InstanceLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}

func sec(t int64) float64 { return float64(t) / 1e9 }

// RunSingletonChaos starts a cluster whose every node is a candidate for
// o.Singletons singletons, lets the seeded nemesis kill, freeze, partition,
// bridge and isolate the leader, heals, and checks that no two instances
// of a singleton ever ran at once, that instances' fences grow, and that
// no singleton went without an instance longer than GapBound. Violations
// fail t; the figures are returned.
func RunSingletonChaos(t testing.TB, o SingletonChaosOptions) SingletonReport {
	t.Helper()
	o.fill()
	c := New(t, Options{Nodes: o.Nodes})
	h := NewHistory()
	ilog := NewInstanceLog(h)
	names := make([]string, o.Singletons)
	for i := range names {
		names[i] = fmt.Sprintf("singleton-%d", i)
	}
	var mu sync.Mutex
	var cands []*cnode.Singleton
	started := func(slot int, nd *cnode.Node) {
		for _, name := range names {
			s, err := nd.StartSingleton(context.Background(), cnode.SingletonSpec{Name: name, Run: recordingSingleton(ilog, name, nd)})
			if err != nil {
				t.Logf("start singleton %s on %s: %v", name, nd.ID(), err)
				continue
			}
			mu.Lock()
			cands = append(cands, s)
			mu.Unlock()
		}
	}
	for _, i := range c.Running() {
		started(i, c.Node(i))
	}
	nem := &nemesis{c: c, h: h, r: rand.New(rand.NewPCG(o.Seed, 0x5169)), faults: o.Faults,
		hold: [2]time.Duration{time.Second, 3 * time.Second}, quiet: [2]time.Duration{time.Second, 2 * time.Second},
		bound: 20 * time.Second, started: started, cuts: cutLog{}, killed: map[incarnation]int64{}}
	ctx, cancel := context.WithTimeout(context.Background(), o.Duration)
	defer cancel()
	nem.run(ctx)
	// After the heal every singleton runs again somewhere.
	_ = WaitFor(o.GapBound, func() error {
		for _, name := range names {
			if _, _, err := c.Node(c.Running()[0]).LookupGlobal(context.Background(), name); err != nil {
				return err
			}
		}
		return nil
	})
	end := h.Now()
	rep := SingletonReport{Seed: o.Seed, Nodes: o.Nodes, Instances: ilog.count()}
	rep.Overlaps, rep.Gaps, rep.Fences, rep.MaxGap = ilog.Check(end, o.GapBound)
	rep.Violations = append(append(append(rep.Violations, rep.Overlaps...), rep.Gaps...), rep.Fences...)
	nem.mu.Lock()
	rep.Nemesis = nem.log
	nem.mu.Unlock()
	t.Log(rep.Summary())
	if len(rep.Violations) > 0 {
		t.Errorf("singleton chaos seed %d: %d violations:\n%s\nnemesis:\n%s", o.Seed, len(rep.Violations),
			strings.Join(rep.Violations, "\n"), strings.Join(rep.Nemesis, "\n"))
	}
	return rep
}

// recordingSingleton is a singleton body that records its run in l.
func recordingSingleton(l *InstanceLog, name string, nd *cnode.Node) node.ProcessFunc {
	return func(ctx context.Context, p *node.Process) error {
		fence, _ := cnode.InstanceFence(ctx)
		end := l.Begin(name, nd.ID(), fence)
		defer end()
		<-ctx.Done()
		return nil
	}
}
