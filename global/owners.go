package global

import (
	"slices"

	"github.com/roster-dev/roster/transport"
)

// The FSM indexes names by owner, per node: which processes of the node own
// which names, and how many names each incarnation of the node owns. Purges,
// UnregisterPID and ByNode/ByPID read the first; the leader's reconcile
// reads the second (Owners) in O(nodes + incarnations) instead of scanning
// every name. Both are derived state: kept on every insert and remove, and
// rebuilt on Restore (readNames indexes each name), never snapshotted.

// procKey is one process of a node: its incarnation and serial.
type procKey struct{ inc, serial uint64 }

// procNames holds one process's names: nearly every process owns one, so
// the first is inline and a set exists only for the rest.
type procNames struct {
	one  string
	more nameSet
}

// nodeOwners is one node's part of the owner index.
type nodeOwners struct {
	procs map[procKey]procNames
	incs  map[uint64]int // incarnation -> names it owns
}

func (p procNames) add(name string) procNames {
	switch {
	case p.one == "" || p.one == name:
		p.one = name
	default:
		if p.more == nil {
			p.more = make(nameSet)
		}
		p.more[name] = struct{}{}
	}
	return p
}

func (p procNames) del(name string) procNames {
	if p.one == name {
		p.one = ""
		for n := range p.more { // any one moves inline: callers sort
			p.one = n
			delete(p.more, n)
			break
		}
	} else {
		delete(p.more, name)
	}
	if len(p.more) == 0 {
		p.more = nil
	}
	return p
}

func (p procNames) appendTo(out []string) []string {
	if p.one != "" {
		out = append(out, p.one)
	}
	for n := range p.more {
		out = append(out, n)
	}
	return out
}

// ownerAdd indexes reg under its owner. The caller holds f.mu for writing.
func (f *fsm) ownerAdd(reg Registration) {
	no := f.byNode[reg.Owner.Node]
	if no == nil {
		no = &nodeOwners{procs: make(map[procKey]procNames), incs: make(map[uint64]int)}
		f.byNode[reg.Owner.Node] = no
	}
	k := procKey{reg.Owner.Incarnation, reg.Owner.Serial}
	no.procs[k] = no.procs[k].add(reg.Name)
	no.incs[k.inc]++
}

// ownerDel removes reg from the owner index.
func (f *fsm) ownerDel(reg Registration) {
	no := f.byNode[reg.Owner.Node]
	if no == nil {
		return
	}
	k := procKey{reg.Owner.Incarnation, reg.Owner.Serial}
	if p, ok := no.procs[k]; ok {
		if p = p.del(reg.Name); p.one == "" {
			delete(no.procs, k)
		} else {
			no.procs[k] = p
		}
		if no.incs[k.inc]--; no.incs[k.inc] <= 0 {
			delete(no.incs, k.inc)
		}
	}
	if len(no.procs) == 0 {
		delete(f.byNode, reg.Owner.Node)
	}
}

// namesOfPID returns pid's names, sorted.
func (f *fsm) namesOfPID(pid transport.PID) []string {
	no := f.byNode[pid.Node]
	if no == nil {
		return nil
	}
	out := no.procs[procKey{pid.Incarnation, pid.Serial}].appendTo(nil)
	slices.Sort(out)
	return out
}

// namesOfNode returns the names owned by node's processes whose
// incarnation passes keep (nil: all), sorted.
func (f *fsm) namesOfNode(node transport.NodeID, keep func(inc uint64) bool) []string {
	no := f.byNode[node]
	if no == nil {
		return nil
	}
	var out []string
	for k, p := range no.procs {
		if keep == nil || keep(k.inc) {
			out = p.appendTo(out)
		}
	}
	slices.Sort(out)
	return out
}

// owners returns, per node, the incarnations that own names (sorted).
func (f *fsm) owners() map[transport.NodeID][]uint64 {
	out := make(map[transport.NodeID][]uint64, len(f.byNode))
	for node, no := range f.byNode {
		incs := make([]uint64, 0, len(no.incs))
		for inc := range no.incs {
			incs = append(incs, inc)
		}
		slices.Sort(incs)
		out[node] = incs
	}
	return out
}

// Owners returns, from the local replica, each node that owns names and
// the incarnations of it that do (sorted). It costs O(nodes +
// incarnations), not O(names): the leader's reconcile calls it each round.
func (t *Table) Owners() map[transport.NodeID][]uint64 {
	t.fsm.mu.RLock()
	defer t.fsm.mu.RUnlock()
	return t.fsm.owners()
}
