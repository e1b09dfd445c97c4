package cluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/transport"
)

func mkEvent(typ global.EventType, owner transport.PID, fence uint64, reason global.Reason, at int64) seenEvent {
	return seenEvent{Event: global.Event{Type: typ, Name: "x", Owner: owner, Fence: fence, Index: fence, Reason: reason}, At: at}
}

// TestCheckEventsExplainsRemovals: removals need a cause (the owner's
// unregister, a re-register by another client, or a fault on the owner's
// incarnation before the removal); anything else is reported.
func TestCheckEventsExplainsRemovals(t *testing.T) {
	names := map[string]bool{"x": true}
	ops := []porcupine.Operation{
		op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 10, Output{Result: ResOK, Fence: 5}, 20),
		op(0, Input{Kind: OpUnregister, Name: "x", PID: pa}, 30, Output{Result: ResUnknown}, 40),
		op(1, Input{Kind: OpReRegister, Name: "x", PID: pb}, 50, Output{Result: ResOK, Fence: 9}, 60),
	}
	cut := cutLog{}
	cut.open(incarnation{Node: pb.Node, Inc: pb.Incarnation}, 70)
	good := []seenEvent{
		mkEvent(global.EventRegistered, pa, 5, global.ReasonRegister, 15),
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonUnregister, 35),
		mkEvent(global.EventRegistered, pb, 9, global.ReasonReRegister, 55),
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonNodeDown, 80),
	}
	if bad := checkEvents(good, ops, names, cut, 0, nil); len(bad) != 0 {
		t.Fatalf("explained events reported: %v", bad)
	}
	unexplained := []seenEvent{
		mkEvent(global.EventRegistered, pb, 3, global.ReasonRegister, 5),    // pb never called register
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonNodeDown, 25), // pa's node was never cut off
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonNodeDown, 65), // before pb's node was cut off
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonProcessExit, 90),
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonUnregister, 95), // pb never unregistered
	}
	if bad := checkEvents(unexplained, ops, names, cut, 0, nil); len(bad) != len(unexplained) {
		t.Fatalf("want %d unexplained events, got %d: %v", len(unexplained), len(bad), bad)
	}
}

// TestCheckEventsPurgeMustFallInACut: a purge is explained only by a cut
// interval that covers it (plus the grace after its heal); a cut healed
// long before, or a later cut, explains nothing. Before cut intervals, the
// first cut of an incarnation explained every later purge of it.
func TestCheckEventsPurgeMustFallInACut(t *testing.T) {
	names := map[string]bool{"x": true}
	ops := []porcupine.Operation{op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 5)}
	inc := incarnation{Node: pa.Node, Inc: pa.Incarnation}
	cuts := cutLog{}
	cuts.open(inc, 100)
	cuts.closeAll(200, nil) // healed at 200
	cuts.open(inc, 1000)    // cut again at 1000, still cut
	const grace = 50
	for _, c := range []struct {
		at   int64
		want bool
	}{{99, false}, {100, true}, {200, true}, {250, true}, {251, false}, {999, false}, {1000, true}, {5000, true}} {
		evs := []seenEvent{mkEvent(global.EventUnregistered, pa, 5, global.ReasonNodeDown, c.at)}
		bad := checkEvents(evs, ops, names, cuts, grace, nil)
		if got := len(bad) == 0; got != c.want {
			t.Errorf("purge at %d: explained=%v, want %v (%v)", c.at, got, c.want, bad)
		}
	}
	// A killed incarnation stays cut after the heal.
	killed := map[incarnation]int64{inc: 1000}
	cuts.closeAll(2000, killed)
	if !cuts.covers(inc, 9000, 0) {
		t.Error("a killed incarnation's cut closed at heal")
	}
}

// TestBridgeCutsOnlyTheFarSide: a bridge fault cuts from the leader only
// the side it is not on; a leading bridge cuts no one.
func TestBridgeCutsOnlyTheFarSide(t *testing.T) {
	perm := []int{2, 0, 1, 3, 4} // bridge 2, left {0,1}, right {3,4}
	left := perm[1:3]
	for _, c := range []struct {
		leader int
		want   []int
	}{{0, []int{3, 4}}, {4, []int{0, 1}}, {2, nil}, {-1, []int{0, 1, 3, 4}}} {
		got := bridgeCut(perm, 2, left, c.leader)
		if !slices.Equal(got, c.want) {
			t.Errorf("leader %d: cut %v, want %v", c.leader, got, c.want)
		}
	}
}

// TestStrictChecks: a strict run fails when it was not checked, porcupine
// gave up, or a name saw too few acknowledged writes.
func TestStrictChecks(t *testing.T) {
	names := map[string]bool{"x": true, "y": true}
	var ops []porcupine.Operation
	for i := range 3 {
		ops = append(ops, op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, int64(i), Output{Result: ResOK, Fence: uint64(i + 1)}, int64(i)))
	}
	ops = append(ops, op(0, Input{Kind: OpRegister, Name: "y", PID: pa}, 9, Output{Result: ResUnknown}, 10))
	ok := Report{Linearizable: porcupine.Ok}
	if bad := strictChecks(ok, ops, map[string]bool{"x": true}, 3); len(bad) != 0 {
		t.Fatalf("a checked run with enough writes failed: %v", bad)
	}
	if bad := strictChecks(ok, ops, names, 3); len(bad) != 1 || !strings.Contains(bad[0], "y=0") {
		t.Fatalf("name without acknowledged writes: %v", bad)
	}
	if bad := strictChecks(Report{Linearizable: porcupine.Unknown}, ops, map[string]bool{"x": true}, 3); len(bad) != 1 {
		t.Fatalf("porcupine Unknown passed a strict run: %v", bad)
	}
	if bad := strictChecks(Report{Unchecked: "compacted"}, ops, map[string]bool{"x": true}, 3); len(bad) != 1 {
		t.Fatalf("an unchecked strict run passed: %v", bad)
	}
}

// TestCheckDeliveries: a probe must reach the owner it was meant for; a
// misdelivery through a fence shared by two registrations is told apart.
func TestCheckDeliveries(t *testing.T) {
	evs := []seenEvent{
		mkEvent(global.EventRegistered, pa, 5, global.ReasonRegister, 1),
		mkEvent(global.EventRegistered, pb, 7, global.ReasonReRegister, 2),
		mkEvent(global.EventRegistered, pa, 7, global.ReasonReRegister, 2), // same entry: shared fence
	}
	ds := []delivery{
		{To: pa, Probe: Probe{Name: "x", Fence: 5, Owner: pa}}, // fine
		{To: pb, Probe: Probe{Name: "x", Fence: 5, Owner: pa}}, // wrong process
		{To: pa, Probe: Probe{Name: "x", Fence: 7, Owner: pb}}, // shared fence
	}
	bad, reused := checkDeliveries(ds, evs)
	if len(bad) != 1 || !strings.Contains(bad[0], "fence 5") {
		t.Fatalf("violations %v", bad)
	}
	if len(reused) != 1 || len(fenceReuse(evs)) != 1 {
		t.Fatalf("shared-fence misdeliveries %v, shared fences %v", reused, fenceReuse(evs))
	}
}

// TestRemovalOpsSkipClientCausedRemovals: only removals the table made on
// its own become OpRemoved operations.
func TestRemovalOpsSkipClientCausedRemovals(t *testing.T) {
	evs := []seenEvent{
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonUnregister, 10),
		mkEvent(global.EventUnregistered, pa, 6, global.ReasonConflict, 11),
		mkEvent(global.EventUnregistered, pa, 7, global.ReasonNodeDown, 12),
		{Event: global.Event{Type: global.EventUnregistered, Name: FailoverProbeName, Owner: pa, Reason: global.ReasonNodeDown}, At: 13},
	}
	ops := removalOps(evs, nil, map[string]bool{"x": true})
	if len(ops) != 1 || ops[0].Input.(Input).Fence != 7 || ops[0].Return != 12 {
		t.Fatalf("removal ops %+v", ops)
	}
}
