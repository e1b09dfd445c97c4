package cluster

import (
	"context"
	"fmt"
	"slices"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/transport"
)

// removalOps turns the table's own removals of workload names (purges,
// process-exit unregisters) into OpRemoved operations. Each may take
// effect from the first call that could have created the registration it
// removes until a watcher saw it. Removals caused by client operations
// (unregister, conflict) are already in the history as those operations.
func removalOps(evs []seenEvent, ops []porcupine.Operation, names map[string]bool) []porcupine.Operation {
	type key struct {
		name string
		pid  transport.PID
	}
	first := map[key]int64{}
	for _, op := range ops {
		in := op.Input.(Input)
		if in.Kind != OpRegister && in.Kind != OpReRegister {
			continue
		}
		k := key{in.Name, in.PID}
		if c, ok := first[k]; !ok || op.Call < c {
			first[k] = op.Call
		}
	}
	var out []porcupine.Operation
	for _, ev := range evs {
		if ev.Type != global.EventUnregistered || !names[ev.Name] ||
			ev.Reason == global.ReasonUnregister || ev.Reason == global.ReasonConflict {
			continue
		}
		out = append(out, porcupine.Operation{ClientId: -1,
			Input: Input{Kind: OpRemoved, Name: ev.Name, PID: ev.Owner, Fence: ev.Fence},
			Call:  min(first[key{ev.Name, ev.Owner}], ev.At), Output: Output{}, Return: ev.At})
	}
	return out
}

// checkEvents applies the rule for lost registrations: a workload name
// may leave the table only
//   - by "unregister": its owner called Unregister (outcome ok or unknown)
//     before the removal was seen;
//   - by "conflict": another client called ReRegister on it before;
//   - by "node_down", "node_left" or "restart": the owner's node
//     incarnation was killed, frozen or cut off from the leader at that
//     moment, or had been until at most cutGrace before (a purge the
//     nemesis induced; a cut healed earlier explains nothing);
//   - by "process_exit": the owner's incarnation had been killed (clients
//     exit only with their node).
//
// and every registration event of a workload name must come from a client
// call of that owner. Together with the linearizability check (which
// covers registrations removed without any event) this is "no
// acknowledged registration of a live owner is lost".
func checkEvents(evs []seenEvent, ops []porcupine.Operation, names map[string]bool, cuts cutLog, cutGrace int64, killed map[incarnation]int64) []string {
	type key struct {
		kind OpKind
		name string
		pid  transport.PID
	}
	calls := map[key]int64{} // earliest call that could cause it
	var rereg = map[string][]porcupine.Operation{}
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if out.Result != ResOK && out.Result != ResUnknown {
			continue
		}
		k := key{in.Kind, in.Name, in.PID}
		if c, ok := calls[k]; !ok || op.Call < c {
			calls[k] = op.Call
		}
		if in.Kind == OpReRegister {
			rereg[in.Name] = append(rereg[in.Name], op)
		}
	}
	called := func(k key, by int64) bool { c, ok := calls[k]; return ok && c <= by }
	var bad []string
	for _, ev := range evs {
		if !names[ev.Name] {
			continue
		}
		inc := incarnation{Node: ev.Owner.Node, Inc: ev.Owner.Incarnation}
		var ok bool
		switch {
		case ev.Type == global.EventRegistered:
			ok = called(key{OpRegister, ev.Name, ev.Owner}, ev.At) || called(key{OpReRegister, ev.Name, ev.Owner}, ev.At)
		case ev.Reason == global.ReasonUnregister:
			ok = called(key{OpUnregister, ev.Name, ev.Owner}, ev.At)
		case ev.Reason == global.ReasonConflict:
			ok = slices.ContainsFunc(rereg[ev.Name], func(op porcupine.Operation) bool {
				return op.Input.(Input).PID != ev.Owner && op.Call <= ev.At
			})
		case ev.Reason == global.ReasonNodeDown, ev.Reason == global.ReasonNodeLeft, ev.Reason == global.ReasonRestart:
			ok = cuts.covers(inc, ev.At, cutGrace)
		case ev.Reason == global.ReasonProcessExit:
			t, dead := killed[inc]
			ok = dead && t <= ev.At
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("unexplained event at index %d (seen %.3fs): %v %q owner %s fence %d reason %s",
				ev.Index, float64(ev.At)/1e9, evType(ev.Type), ev.Name, ev.Owner, ev.Fence, ev.Reason))
		}
	}
	return bad
}

func evType(t global.EventType) string {
	if t == global.EventRegistered {
		return "registered"
	}
	return "unregistered"
}

// checkDeliveries: every probe sent fenced to (name, fence) reached the
// owner of that registration: the owner the sender saw with the fence,
// which the event log must confirm. It returns the violations, and
// separately the misdeliveries explained by a fence shared by several
// registrations (see fenceReuse), a known global-table bug.
func checkDeliveries(ds []delivery, evs []seenEvent) (bad, reused []string) {
	owners := fenceOwners(evs)
	for _, d := range ds {
		p := d.Probe
		if d.To == p.Owner && slices.Contains(owners[fenceKey{p.Name, p.Fence}], p.Owner) {
			continue
		}
		msg := fmt.Sprintf("probe for %q at fence %d meant for %s delivered to %s; registrations with that fence: %v",
			p.Name, p.Fence, p.Owner, d.To, owners[fenceKey{p.Name, p.Fence}])
		if len(owners[fenceKey{p.Name, p.Fence}]) > 1 {
			reused = append(reused, msg)
		} else {
			bad = append(bad, msg)
		}
	}
	return bad, reused
}

type fenceKey struct {
	name  string
	fence uint64
}

// fenceOwners maps each (name, fence) to the owners registered with it.
func fenceOwners(evs []seenEvent) map[fenceKey][]transport.PID {
	out := map[fenceKey][]transport.PID{}
	for _, ev := range evs {
		k := fenceKey{ev.Name, ev.Fence}
		if ev.Type == global.EventRegistered && !slices.Contains(out[k], ev.Owner) {
			out[k] = append(out[k], ev.Owner)
		}
	}
	return out
}

// fenceReuse lists the (name, fence) pairs held by more than one owner:
// fences are meant to identify one registration.
func fenceReuse(evs []seenEvent) []string {
	var out []string
	for k, owners := range fenceOwners(evs) {
		if len(owners) > 1 {
			out = append(out, fmt.Sprintf("%q fence %d held by %v", k.name, k.fence, owners))
		}
	}
	slices.Sort(out)
	return out
}

// checkReplicas compares every running node's replica (after convergence):
// all must hold the same names with the same owner and fence.
func (c *Cluster) checkReplicas(ctx context.Context) []string {
	var ref []global.Registration
	var refID transport.NodeID
	var bad []string
	for _, i := range c.Running() {
		nd := c.Node(i)
		regs, _, err := nd.ListGlobal(ctx, "")
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: list: %v", nd.ID(), err))
			continue
		}
		if refID == "" {
			ref, refID = regs, nd.ID()
			continue
		}
		if !slices.EqualFunc(ref, regs, func(a, b global.Registration) bool {
			return a.Name == b.Name && a.Owner == b.Owner && a.Fence == b.Fence
		}) {
			bad = append(bad, fmt.Sprintf("replicas differ: %s has %s, %s has %s", refID, fmtRegs(ref), nd.ID(), fmtRegs(regs)))
		}
	}
	return bad
}

func fmtRegs(regs []global.Registration) string {
	s := "["
	for i, r := range regs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%s@%d", r.Name, r.Owner, r.Fence)
	}
	return s + "]"
}

// strictChecks turns a run that proved nothing into violations: an
// unchecked history, a porcupine verdict other than Ok or Illegal (Illegal
// is reported on its own), and names with fewer than minAcked
// acknowledged writes.
func strictChecks(rep Report, ops []porcupine.Operation, names map[string]bool, minAcked int) []string {
	var bad []string
	if rep.Unchecked != "" {
		bad = append(bad, "strict run not checked: "+rep.Unchecked)
	} else if rep.Linearizable != porcupine.Ok && rep.Linearizable != porcupine.Illegal {
		bad = append(bad, fmt.Sprintf("strict run: linearizability check gave %q (timed out?), not Ok", rep.Linearizable))
	}
	acked := map[string]int{}
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if out.Result == ResOK && (in.Kind == OpRegister || in.Kind == OpReRegister || in.Kind == OpUnregister) {
			acked[in.Name]++
		}
	}
	var short []string
	for n := range names {
		if acked[n] < minAcked {
			short = append(short, fmt.Sprintf("%s=%d", n, acked[n]))
		}
	}
	slices.Sort(short)
	if len(short) > 0 {
		bad = append(bad, fmt.Sprintf("strict run: names with fewer than %d acknowledged writes: %v", minAcked, short))
	}
	return bad
}
