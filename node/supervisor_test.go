package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/local"
)

// worker is a child body that serves calls ("crash" makes it fail) and
// records its start and stop in log.
func worker(id string, log *eventLog) ProcessFunc {
	return func(ctx context.Context, p *Process) error {
		log.add("start " + id)
		defer log.add("stop " + id)
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if m.IsCall() {
				if m.Body == "crash" {
					return fmt.Errorf("%s crashed", id)
				}
				_ = p.Reply(ctx, m.ReplyTo(), id)
			}
		}
	}
}

type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) add(s string) { l.mu.Lock(); l.evs = append(l.evs, s); l.mu.Unlock() }
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.evs
	l.evs = nil
	return out
}

// childPIDs returns the running children's pids by id.
func childPIDs(t *testing.T, sup *Supervisor) map[string]PID {
	t.Helper()
	cs, err := sup.Children(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]PID, len(cs))
	for _, c := range cs {
		out[c.ID] = c.PID
	}
	return out
}

// crash makes the child registered as name fail and waits until the
// supervisor has replaced it.
func crash(t *testing.T, n *Node, sup *Supervisor, id string) {
	t.Helper()
	old := childPIDs(t, sup)[id]
	if _, err := n.Call(callCtx(t), old, "crash"); err == nil {
		t.Fatalf("%s answered a crash call", id)
	}
	waitFor(t, id+" restarted", func() error {
		if now := childPIDs(t, sup)[id]; now == old || now.IsZero() {
			return fmt.Errorf("%s still %s", id, now)
		}
		return nil
	})
}

func spec(strategy RestartStrategy, log *eventLog, ids ...string) SupervisorSpec {
	s := DefaultSupervisorSpec()
	s.Strategy = strategy
	for _, id := range ids {
		s.Children = append(s.Children, ChildSpec{ID: id, Start: worker(id, log), Name: "w-" + id})
	}
	return s
}

func TestSupervisorStrategies(t *testing.T) {
	cases := []struct {
		strategy  RestartStrategy
		restarted []string // after c "b" crashes
	}{
		{OneForOne, []string{"b"}},
		{OneForAll, []string{"a", "b", "c"}},
		{RestForOne, []string{"b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			log, regs := &eventLog{}, &eventLog{}
			cfg := DefaultConfig()
			cfg.NodeID = "a"
			cfg.NameListeners = []local.Listener[PID]{func(ev local.Event[PID]) {
				if ev.Type == local.Registered {
					regs.add(ev.Key)
				}
			}}
			n, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
			sup, err := n.StartSupervisor(callCtx(t), spec(tc.strategy, log, "a", "b", "c"))
			if err != nil {
				t.Fatal(err)
			}
			// Children are spawned and registered in order (their bodies
			// then run concurrently).
			if got := regs.take(); !slices.Equal(got, []string{"w-a", "w-b", "w-c"}) {
				t.Fatalf("start order %v", got)
			}
			before := childPIDs(t, sup)
			crash(t, n, sup, "b")
			after := childPIDs(t, sup)
			var restarted []string
			for _, id := range []string{"a", "b", "c"} {
				if before[id] != after[id] {
					restarted = append(restarted, id)
				}
				// Names are registered again, before the start is reported.
				if pid, ok := n.Whereis("w-" + id); !ok || pid != after[id] {
					t.Fatalf("name w-%s: %v %v, child %s", id, pid, ok, after[id])
				}
			}
			if !slices.Equal(restarted, tc.restarted) {
				t.Fatalf("restarted %v, want %v", restarted, tc.restarted)
			}
			reason, err := sup.Stop(callCtx(t))
			if err != nil || !errors.Is(reason, Shutdown) {
				t.Fatalf("stop: %v %v", reason, err)
			}
			evs := log.take()
			stops := slices.DeleteFunc(slices.Clone(evs), func(s string) bool { return s[:4] != "stop" })
			want := []string{"stop c", "stop b", "stop a"}
			if !slices.Equal(stops[len(stops)-3:], want) {
				t.Fatalf("shutdown order %v, want %v at the end", evs, want)
			}
			for _, pid := range after {
				if n.Alive(pid) {
					t.Fatalf("child %s outlived its supervisor", pid)
				}
			}
		})
	}
}

func TestSupervisorRestartTypesAndIntensity(t *testing.T) {
	n := newTestNode(t, "a", nil)
	log := &eventLog{}
	s := DefaultSupervisorSpec()
	s.Intensity, s.Period = 2, time.Minute
	s.Children = []ChildSpec{
		{ID: "perm", Start: worker("perm", log)},
		{ID: "trans", Start: worker("trans", log), Restart: Transient},
		{ID: "temp", Start: worker("temp", log), Restart: Temporary},
	}
	sup, err := n.StartSupervisor(callCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	// A transient child that exits normally stays down; a temporary one
	// that crashes leaves.
	pids := childPIDs(t, sup)
	_ = n.Exit(pids["trans"], Shutdown)
	if _, err := n.Call(callCtx(t), pids["temp"], "crash"); err == nil {
		t.Fatal("temp answered")
	}
	waitFor(t, "temp gone, trans down", func() error {
		cs, err := sup.Children(callCtx(t))
		if err != nil {
			return err
		}
		if len(cs) != 2 || cs[1].ID != "trans" || !cs[1].PID.IsZero() {
			return fmt.Errorf("children %+v", cs)
		}
		return nil
	})
	// Two restarts are allowed, the third failure ends the supervisor.
	crash(t, n, sup, "perm")
	crash(t, n, sup, "perm")
	last := childPIDs(t, sup)["perm"]
	watch := spawnProbe(t, n)
	if _, err := watch.p.Monitor(sup.PID()); err != nil {
		t.Fatal(err)
	}
	_, _ = n.Call(callCtx(t), last, "crash")
	reason := watch.down(t).Reason
	var se *SupervisorError
	if !errors.Is(reason, ErrMaxRestarts) || !errors.As(reason, &se) || se.Child != "perm" {
		t.Fatalf("supervisor exit: %v", reason)
	}
	if n.Alive(last) {
		t.Fatal("child outlived the supervisor")
	}
}

func TestSupervisorShutdownTimeout(t *testing.T) {
	n := newTestNode(t, "a", nil)
	stubborn := func(ctx context.Context, p *Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if _, ok := m.Body.(ExitSignal); ok {
				continue // ignores the shutdown request
			}
		}
	}
	s := DefaultSupervisorSpec()
	s.Children = []ChildSpec{{ID: "stubborn", Start: stubborn, Shutdown: 100 * time.Millisecond, Options: []SpawnOption{WithTrapExit()}}}
	sup, err := n.StartSupervisor(callCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	pid := childPIDs(t, sup)["stubborn"]
	start := time.Now()
	if _, err := sup.Stop(callCtx(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Fatalf("stop took %v, want about the 100ms shutdown then a kill", d)
	}
	if n.Alive(pid) {
		t.Fatal("stubborn child survived")
	}
}

func TestDynamicSupervisorAndTree(t *testing.T) {
	n := newTestNode(t, "a", nil)
	log := &eventLog{}
	dyn := DefaultSupervisorSpec()
	dyn.Strategy = Dynamic
	dynBody, err := SupervisorBody(dyn)
	if err != nil {
		t.Fatal(err)
	}
	top := spec(OneForOne, log, "a")
	top.Children = append(top.Children, ChildSpec{ID: "pool", Start: dynBody, Name: "pool-sup", Shutdown: 10 * time.Second})
	sup, err := n.StartSupervisor(callCtx(t), top)
	if err != nil {
		t.Fatal(err)
	}
	poolPID, ok := n.Whereis("pool-sup")
	if !ok {
		t.Fatal("pool supervisor not registered")
	}
	pool := n.Supervise(poolPID)
	var workers []PID
	for i := range 3 {
		id := fmt.Sprint("job", i)
		pid, err := pool.StartChild(callCtx(t), ChildSpec{Start: worker(id, log), Via: &ViaName{Registry: n.Groups(), Key: "jobs"}})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, pid)
	}
	if got := len(n.Groups().Lookup("jobs")); got != 3 {
		t.Fatalf("%d jobs registered", got)
	}
	if err := pool.TerminateChildPID(callCtx(t), workers[0]); err != nil {
		t.Fatal(err)
	}
	if n.Alive(workers[0]) {
		t.Fatal("terminated child alive")
	}
	if err := pool.TerminateChild(callCtx(t), "nope"); !errors.Is(err, ErrNoChild) {
		t.Fatalf("terminate unknown: %v", err)
	}
	if _, err := pool.StartChild(callCtx(t), ChildSpec{ID: "x"}); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("child without start: %v", err)
	}
	// A worker crash is repaired inside the pool; the top is untouched.
	aBefore := childPIDs(t, sup)["a"]
	_, _ = n.Call(callCtx(t), workers[1], "crash")
	waitFor(t, "pool repaired", func() error {
		if len(n.Groups().Lookup("jobs")) != 2 || n.Alive(workers[1]) {
			return errors.New("not yet")
		}
		return nil
	})
	if childPIDs(t, sup)["a"] != aBefore {
		t.Fatal("a worker crash restarted the top level")
	}
	if _, err := sup.Stop(callCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(n.Groups().Lookup("jobs")) != 0 || n.Alive(poolPID) {
		t.Fatal("the tree outlived its root")
	}
}

func TestSupervisorBadInput(t *testing.T) {
	n := newTestNode(t, "a", nil)
	before := runtime.NumGoroutine()
	ok := func(id string) ChildSpec { return ChildSpec{ID: id, Start: worker(id, &eventLog{})} }
	bad := []SupervisorSpec{
		{Intensity: -1, Period: time.Second},
		{Intensity: 1},
		{Intensity: 1, Period: time.Second, Strategy: 99},
		{Intensity: 1, Period: time.Second, Children: []ChildSpec{{ID: "x"}}},
		{Intensity: 1, Period: time.Second, Children: []ChildSpec{{Start: ok("a").Start}}},
		{Intensity: 1, Period: time.Second, Children: []ChildSpec{ok("a"), ok("a")}},
		{Intensity: 1, Period: time.Second, Children: []ChildSpec{{ID: "g", Start: ok("g").Start, Global: "g"}}},
		{Intensity: 1, Period: time.Second, Strategy: Dynamic, Children: []ChildSpec{ok("a")}},
		{Intensity: 1, Period: time.Second, Children: []ChildSpec{{ID: "s", Start: ok("s").Start, Shutdown: -5}}},
	}
	for i, s := range bad {
		if _, err := n.StartSupervisor(callCtx(t), s); !errors.Is(err, ErrBadSpec) {
			t.Fatalf("spec %d: %v", i, err)
		}
	}
	// A child that cannot start (its name is taken) fails the start, and
	// the children already started are stopped.
	holder := spawnWaiter(t, n, WithName("taken"))
	s := DefaultSupervisorSpec()
	first := ok("first")
	s.Children = []ChildSpec{first, {ID: "second", Start: ok("second").Start, Name: "taken"}}
	_, err := n.StartSupervisor(callCtx(t), s)
	var ase *AlreadyStartedError
	if !errors.As(err, &ase) || ase.PID != holder {
		t.Fatalf("start with a taken name: %v", err)
	}
	_ = n.Exit(holder, Killed)
	waitFor(t, "no goroutine leaked", func() error {
		if g := runtime.NumGoroutine(); g > before {
			return fmt.Errorf("%d goroutines, %d before", g, before)
		}
		return nil
	})
}
