package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// runLog records singleton instances (start, stop) across nodes of one
// process and reports overlaps: two instances running at once.
type runLog struct {
	mu   sync.Mutex
	runs []instRun
}

type instRun struct {
	node        node.NodeID
	start, stop time.Time // stop zero: still running
}

func (l *runLog) begin(id node.NodeID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, instRun{node: id, start: time.Now()})
	return len(l.runs) - 1
}

func (l *runLog) end(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs[i].stop = time.Now()
}

func (l *runLog) running() []node.NodeID {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []node.NodeID
	for _, r := range l.runs {
		if r.stop.IsZero() {
			out = append(out, r.node)
		}
	}
	return out
}

// overlaps lists pairs of instances whose runs intersect.
func (l *runLog) overlaps() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var bad []string
	for i, a := range l.runs {
		for _, b := range l.runs[i+1:] {
			aEnd, bEnd := a.stop, b.stop
			if aEnd.IsZero() {
				aEnd = time.Now().Add(time.Hour)
			}
			if bEnd.IsZero() {
				bEnd = time.Now().Add(time.Hour)
			}
			if a.start.Before(bEnd) && b.start.Before(aEnd) {
				bad = append(bad, fmt.Sprintf("%s [%v..%v] and %s [%v..%v]", a.node, a.start.Format("15:04:05.000"),
					a.stop.Format("15:04:05.000"), b.node, b.start.Format("15:04:05.000"), b.stop.Format("15:04:05.000")))
			}
		}
	}
	return bad
}

// lastStartAfter is the start of the first instance that began after t.
func (l *runLog) firstStartAfter(t time.Time) (time.Time, node.NodeID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.runs {
		if r.start.After(t) {
			return r.start, r.node, true
		}
	}
	return time.Time{}, "", false
}

func singletonEcho(l *runLog, id node.NodeID) node.ProcessFunc {
	return func(ctx context.Context, p *node.Process) error {
		i := l.begin(id)
		defer l.end(i)
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return err
			}
			if s, ok := m.Body.(string); ok {
				if from, err := transport.ParsePID(s); err == nil {
					_ = p.Send(ctx, from, string(id))
				}
			}
		}
	}
}

func startSingletonEverywhere(t *testing.T, nodes []*Node, name string, l *runLog) map[node.NodeID]*Singleton {
	t.Helper()
	out := map[node.NodeID]*Singleton{}
	for _, nd := range nodes {
		s, err := nd.StartSingleton(context.Background(), SingletonSpec{Name: name, Run: singletonEcho(l, nd.ID())})
		if err != nil {
			t.Fatal(err)
		}
		out[nd.ID()] = s
	}
	return out
}

func waitOneRunning(t *testing.T, l *runLog, not node.NodeID) node.NodeID {
	t.Helper()
	var id node.NodeID
	pollFor(t, 15*time.Second, func() error {
		r := l.running()
		if len(r) != 1 || r[0] == not {
			return fmt.Errorf("running instances: %v", r)
		}
		id = r[0]
		return nil
	})
	return id
}

func nodeByID(nodes []*Node, id node.NodeID) (*Node, []*Node) {
	var hit *Node
	var rest []*Node
	for _, nd := range nodes {
		if nd.ID() == id {
			hit = nd
		} else {
			rest = append(rest, nd)
		}
	}
	return hit, rest
}

// TestSingletonRunsOnceAndMovesOnDeath: a singleton started on three
// nodes runs on exactly one, answers by global name from every node, and
// moves when its node dies; no two instances ever overlap.
func TestSingletonRunsOnceAndMovesOnDeath(t *testing.T) {
	nodes := startCluster(t, 3)
	l := &runLog{}
	startSingletonEverywhere(t, nodes, "single/echo", l)
	first := waitOneRunning(t, l, "")
	for _, nd := range nodes {
		pid, got := spawnReceiver(t, nd)
		pollFor(t, 5*time.Second, func() error {
			return nd.Send(context.Background(), node.Global("single/echo"), pid.String())
		})
		select {
		case m := <-got:
			if m.Body != string(first) {
				t.Fatalf("%s: answer from %v, instance runs on %s", nd.ID(), m.Body, first)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no answer from the singleton", nd.ID())
		}
	}

	// Death (shutdown without a leave announcement).
	owner, _ := nodeByID(nodes, first)
	died := time.Now()
	if err := owner.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := waitOneRunning(t, l, first)
	st, _, _ := l.firstStartAfter(died)
	t.Logf("death of %s: successor on %s running %v later (fast profile)", first, second, st.Sub(died).Round(time.Millisecond))
	if bad := l.overlaps(); len(bad) > 0 {
		t.Fatalf("overlapping instances: %v", bad)
	}
}

// TestSingletonMovesOnLeave: Leave stops the instance before its name is
// purged, and a successor starts on another node; the two never overlap.
func TestSingletonMovesOnLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	l := &runLog{}
	startSingletonEverywhere(t, nodes, "single/leave", l)
	first := waitOneRunning(t, l, "")
	owner, _ := nodeByID(nodes, first)
	left := time.Now()
	if err := owner.Leave(context.Background()); err != nil {
		t.Fatalf("leave: %v", err)
	}
	second := waitOneRunning(t, l, first)
	st, _, _ := l.firstStartAfter(left)
	l.mu.Lock()
	stopped := l.runs[0].stop
	l.mu.Unlock()
	t.Logf("graceful leave of %s: old instance stopped %v after Leave began; successor on %s running %v after the old one stopped",
		first, stopped.Sub(left).Round(time.Millisecond), second, st.Sub(stopped).Round(time.Millisecond))
	if bad := l.overlaps(); len(bad) > 0 {
		t.Fatalf("overlapping instances: %v", bad)
	}
}

// TestSingletonBadSpec: bad specs are refused with ErrSingletonSpec, a
// second candidacy for one name with ErrSingletonStarted; Stop ends the
// candidacy and frees the name, with no goroutine left behind.
func TestSingletonBadSpec(t *testing.T) {
	nodes := startCluster(t, 1)
	nd := nodes[0]
	ctx := context.Background()
	for _, spec := range []SingletonSpec{
		{Name: "x"},
		{Run: func(context.Context, *node.Process) error { return nil }},
		{Name: "x", Run: func(context.Context, *node.Process) error { return nil }, StopTimeout: -1},
	} {
		if _, err := nd.StartSingleton(ctx, spec); !errors.Is(err, ErrSingletonSpec) {
			t.Errorf("spec %+v: %v", spec, err)
		}
	}
	l := &runLog{}
	s, err := nd.StartSingleton(ctx, SingletonSpec{Name: "x", Run: singletonEcho(l, nd.ID())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nd.StartSingleton(ctx, SingletonSpec{Name: "x", Run: singletonEcho(l, nd.ID())}); !errors.Is(err, ErrSingletonStarted) {
		t.Fatalf("second candidacy: %v", err)
	}
	waitOneRunning(t, l, "")
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if r := l.running(); len(r) != 0 {
		t.Fatalf("still running after Stop: %v", r)
	}
	pollFor(t, 5*time.Second, nameGoneEverywhere("x", nd))
}

// TestSingletonHandsOffStateOnLeave: an instance told to stop by Leave
// returns HandOff(state); the successor on another node starts with that
// state (HandoffFrom) and the old instance's fence, and never overlaps it.
func TestSingletonHandsOffStateOnLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	l := &runLog{}
	type seen struct {
		state any
		from  uint64
		ok    bool
	}
	got := make(chan seen, 8)
	fences := make(chan uint64, 8)
	for _, nd := range nodes {
		id := nd.ID()
		_, err := nd.StartSingleton(context.Background(), SingletonSpec{Name: "single/handoff", Run: func(ctx context.Context, p *node.Process) error {
			i := l.begin(id)
			defer l.end(i)
			st, from, ok := HandoffFrom(ctx)
			got <- seen{st, from, ok}
			f, _ := InstanceFence(ctx)
			fences <- f
			<-ctx.Done()
			return HandOff("counter=42 from " + string(id))
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	first := waitOneRunning(t, l, "")
	if s := <-got; s.ok {
		t.Fatalf("first instance found a hand-off: %+v", s)
	}
	oldFence := <-fences
	owner, _ := nodeByID(nodes, first)
	if err := owner.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitOneRunning(t, l, first)
	select {
	case s := <-got:
		if !s.ok || s.state != "counter=42 from "+string(first) || s.from != oldFence {
			t.Fatalf("successor's hand-off: %+v (want the state of %s at fence %d)", s, first, oldFence)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("successor did not start")
	}
	if bad := l.overlaps(); len(bad) > 0 {
		t.Fatalf("overlapping instances: %v", bad)
	}
}
