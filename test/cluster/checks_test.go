package cluster

import (
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
	cut := map[incarnation]int64{{Node: pb.Node, Inc: pb.Incarnation}: 70}
	good := []seenEvent{
		mkEvent(global.EventRegistered, pa, 5, global.ReasonRegister, 15),
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonUnregister, 35),
		mkEvent(global.EventRegistered, pb, 9, global.ReasonReRegister, 55),
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonNodeDown, 80),
	}
	if bad := checkEvents(good, ops, names, cut, nil); len(bad) != 0 {
		t.Fatalf("explained events reported: %v", bad)
	}
	unexplained := []seenEvent{
		mkEvent(global.EventRegistered, pb, 3, global.ReasonRegister, 5),    // pb never called register
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonNodeDown, 25), // pa's node was never cut off
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonNodeDown, 65), // before pb's node was cut off
		mkEvent(global.EventUnregistered, pa, 5, global.ReasonProcessExit, 90),
		mkEvent(global.EventUnregistered, pb, 9, global.ReasonUnregister, 95), // pb never unregistered
	}
	if bad := checkEvents(unexplained, ops, names, cut, nil); len(bad) != len(unexplained) {
		t.Fatalf("want %d unexplained events, got %d: %v", len(unexplained), len(bad), bad)
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
