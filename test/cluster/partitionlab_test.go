package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
	cnode "github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/test/cluster"
)

// This file is the README's "Test your service under partitions" example:
// a user's service — a fenced singleton that appends to a ledger in an
// external store — run in an in-process cluster under a fault schedule,
// with the store's writes checked for "one owner at a time, fenced".

// labSeed is the schedule's seed: ROSTER_LAB_SEED replays one.
func labSeed(t *testing.T) uint64 {
	if s := os.Getenv("ROSTER_LAB_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ROSTER_LAB_SEED=%q: %v", s, err)
		}
		return seed
	}
	return 1
}

// ledgerWriter is the service: while it is the singleton's instance it
// appends to the ledger every 20 ms under its fence, and it stops when its
// ctx ends (the lease rule ends it before a successor may start).
func ledgerWriter(store *cluster.FencedStore) node.ProcessFunc {
	return func(ctx context.Context, p *node.Process) error {
		fence, _ := cnode.InstanceFence(ctx)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			// A stale instance's write is refused; it would stop here in a
			// real service. This one just carries on until its ctx ends.
			_ = store.Write(p.PID().String(), fence, fmt.Sprint("entry ", i))
		}
	}
}

// buggyLedgerWriter is the deliberate bug: it writes from a goroutine that
// ignores both the fence and the instance's ctx, so an instance cut off
// from the majority keeps writing after its successor started.
func buggyLedgerWriter(store *cluster.FencedStore, stop <-chan struct{}) node.ProcessFunc {
	return func(ctx context.Context, p *node.Process) error {
		me := p.PID().String()
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				_ = store.Write(me, 0, fmt.Sprint("entry ", i)) // BUG: no fence, no ctx
			}
		}()
		<-ctx.Done()
		return nil
	}
}

// runLedger starts a 3-node cluster where every node is a candidate for
// the "ledger" singleton running body, waits for the first write, runs the
// schedule, and returns the store's writes and the schedule's log.
func runLedger(t *testing.T, body func(*cluster.FencedStore) node.ProcessFunc, s cluster.Schedule) ([]cluster.FencedWrite, *cluster.ScheduleLog) {
	t.Helper()
	c := cluster.New(t, cluster.Options{Nodes: 3})
	h := cluster.NewHistory()
	store := cluster.NewFencedStore(h)
	for _, i := range c.Running() {
		if _, err := c.Node(i).StartSingleton(context.Background(), cnode.SingletonSpec{Name: "ledger", Run: body(store)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cluster.WaitFor(10*time.Second, func() error {
		if len(store.Writes()) == 0 {
			return fmt.Errorf("no ledger write yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	log := c.RunSchedule(context.Background(), h, s)
	// After the heal a single instance writes again.
	n := len(store.Writes())
	if err := cluster.WaitFor(10*time.Second, func() error {
		if len(store.Writes()) <= n {
			return fmt.Errorf("no ledger write after the heal")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	return store.Writes(), log
}

// writers counts the distinct writers whose writes were accepted.
func writers(ws []cluster.FencedWrite) int {
	seen := map[string]bool{}
	for _, w := range ws {
		if w.Accepted {
			seen[w.Writer] = true
		}
	}
	return len(seen)
}

// TestLedgerUnderFaults: the fenced ledger writer keeps "one owner at a
// time, fenced" while its owner is isolated and then under a seeded
// random schedule (partition, isolate the leader, one-way loss, freeze,
// kill) with heals in between.
func TestLedgerUnderFaults(t *testing.T) {
	seed := labSeed(t)
	s := cluster.RandomSchedule(seed, 2, 3)
	s.Steps = append([]cluster.Step{cluster.Isolate(cluster.OwnerOf("ledger")).For(3 * time.Second), cluster.Heal()}, s.Steps...)
	ws, log := runLedger(t, ledgerWriter, s)
	if v := cluster.CheckFenced(ws); len(v) > 0 {
		t.Fatalf("%s\nviolations:\n%s\nwrites:\n%s", log, strings.Join(v, "\n"), cluster.FormatWrites(ws, 20))
	}
	// Isolating the owner moved the singleton: the check saw a handover.
	if n := writers(ws); n < 2 {
		t.Fatalf("%s\nonly %d writer(s): the singleton never moved, the check proved nothing", log, n)
	}
	t.Logf("%s%d writes from %d instances, no violation", log, len(ws), writers(ws))
}

// TestLedgerUnfencedWriterIsCaught: the buggy writer (no fence, ignores
// its ctx) breaks "one owner at a time" as soon as its owner is isolated,
// and CheckFenced says so. The test asserts the violation is found; it
// prints the seed, schedule and offending writes.
func TestLedgerUnfencedWriterIsCaught(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	s := cluster.Schedule{Steps: []cluster.Step{
		cluster.Isolate(cluster.OwnerOf("ledger")).For(3 * time.Second), cluster.Heal()}}
	ws, log := runLedger(t, func(st *cluster.FencedStore) node.ProcessFunc { return buggyLedgerWriter(st, stop) }, s)
	v := cluster.CheckFenced(ws)
	if len(v) == 0 {
		t.Fatalf("%s\nthe unfenced writer was not caught (%d writes from %d writers)", log, len(ws), writers(ws))
	}
	t.Logf("caught, as it must be:\n%s%d violation(s), first:\n%s\nwrites:\n%s", log, len(v), v[0], cluster.FormatWrites(ws, 20))
}

// TestCheckFenced: the check passes a clean handover and catches a fence
// that went down and two writers at once.
func TestCheckFenced(t *testing.T) {
	w := func(writer string, fence uint64, at int64, ok bool) cluster.FencedWrite {
		return cluster.FencedWrite{Writer: writer, Fence: fence, At: at, Accepted: ok}
	}
	clean := []cluster.FencedWrite{w("a", 5, 1, true), w("a", 5, 2, true), w("b", 9, 3, true), w("a", 5, 4, false), w("b", 9, 5, true)}
	if v := cluster.CheckFenced(clean); len(v) != 0 {
		t.Fatalf("clean handover: %v", v)
	}
	down := []cluster.FencedWrite{w("a", 9, 1, true), w("b", 5, 2, true)}
	if v := cluster.CheckFenced(down); len(v) != 1 || !strings.HasPrefix(v[0], "fence went down") {
		t.Fatalf("fence down: %v", v)
	}
	both := []cluster.FencedWrite{w("a", 0, 1, true), w("b", 0, 2, true), w("a", 0, 3, true)}
	if v := cluster.CheckFenced(both); len(v) != 1 || !strings.HasPrefix(v[0], "two writers at once") {
		t.Fatalf("two writers: %v", v)
	}
	// The store itself refuses an older fence.
	st := cluster.NewFencedStore(cluster.NewHistory())
	if err := st.Write("b", 9, "x"); err != nil {
		t.Fatal(err)
	}
	if err := st.Write("a", 5, "y"); err == nil {
		t.Fatal("store accepted an older fence")
	}
	if v := st.Check(); len(v) != 0 {
		t.Fatalf("store's own writes: %v", v)
	}
}
