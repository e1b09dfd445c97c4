package cluster

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/transport"
)

// OpKind is what a history operation did to one name.
type OpKind uint8

// Operation kinds of the name-table model.
const (
	// OpRegister is RegisterGlobal(name, pid).
	OpRegister OpKind = iota + 1
	// OpReRegister is ReRegisterGlobal(name, pid).
	OpReRegister
	// OpUnregister is UnregisterGlobal(name, pid).
	OpUnregister
	// OpLookup is LookupGlobal(name, global.Consistent). Local-replica
	// reads are not linearizable by design and never enter a history.
	OpLookup
	// OpRemoved is a removal the table made on its own (a purge of a dead
	// node's incarnation, a process-exit unregister), taken from the
	// table's event stream: the registration of PID at Fence went.
	OpRemoved
)

var opNames = map[OpKind]string{OpRegister: "register", OpReRegister: "re_register",
	OpUnregister: "unregister", OpLookup: "lookup", OpRemoved: "removed"}

// String names the operation kind ("register", ...).
func (k OpKind) String() string { return opNames[k] }

// Result is an operation's outcome as the model sees it.
type Result uint8

// Outcomes. ResUnknown marks a write that may or may not have been applied
// (a timeout or global.ErrOutcomeUnknown); its operation returns at the end
// of the history.
const (
	ResOK Result = iota + 1
	ResAlready
	ResNotFound
	ResNotOwner
	ResOwnerGone
	ResUnknown
)

var resNames = map[Result]string{ResOK: "ok", ResAlready: "already_registered", ResNotFound: "not_found",
	ResNotOwner: "not_owner", ResOwnerGone: "owner_gone", ResUnknown: "unknown"}

// String names the outcome ("ok", "unknown", ...).
func (r Result) String() string { return resNames[r] }

// Input is a history operation's input.
type Input struct {
	Kind OpKind
	Name string
	PID  transport.PID
	// Fence is the registration OpRemoved removed.
	Fence uint64
}

// Output is a history operation's output: Owner and Fence are the
// registration a successful write created or a lookup or
// AlreadyRegistered error reported.
type Output struct {
	Result Result
	Owner  transport.PID
	Fence  uint64
}

// nameState is the model's state of one name. Fence 0 on a present name
// means "not known yet": a write with an unknown outcome created it.
// MaxFence is the highest fence any registration of the name has had so
// far, present or not: fences grow with the Raft log, so a registration
// created later always has a larger one, and a fence not yet known (0)
// can only turn out larger than MaxFence.
type nameState struct {
	Present  bool
	Owner    transport.PID
	Fence    uint64
	MaxFence uint64
}

// fenceMatches reports whether st's fence may be f (refining an unknown
// one, which must then be newer than every fence seen before).
func (st nameState) fenceMatches(f uint64) bool {
	if st.Fence == 0 {
		return f > st.MaxFence
	}
	return st.Fence == f
}

func (st nameState) withFence(f uint64) nameState {
	st.Fence = f
	st.MaxFence = max(st.MaxFence, f)
	return st
}

// created is the state after a new registration of owner with fence f
// (0: not known yet); it keeps the history's highest fence.
func (st nameState) created(owner transport.PID, f uint64) nameState {
	return nameState{Present: true, Owner: owner, Fence: f, MaxFence: max(st.MaxFence, f)}
}

// removed is the state after the registration went.
func (st nameState) removed() nameState { return nameState{MaxFence: st.MaxFence} }

// newFence reports whether f may be the fence of a registration created
// now: larger than every fence the name had before.
func (st nameState) newFence(f uint64) bool { return f > st.MaxFence }

// NameModel is the porcupine model of the global name table, partitioned
// per name (names are independent, so each name's history is checked on
// its own).
func NameModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByName,
		Init:      func() any { return nameState{} },
		Step: func(s, in, out any) (bool, any) {
			return step(s.(nameState), in.(Input), out.(Output))
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(Input), out.(Output)
			return describeOp(i, o)
		},
		DescribeState: func(s any) string {
			st := s.(nameState)
			if !st.Present {
				return "free"
			}
			return fmt.Sprintf("%s@%d", st.Owner, st.Fence)
		},
	}
}

func describeOp(i Input, o Output) string {
	switch i.Kind {
	case OpRemoved:
		return fmt.Sprintf("removed(%s, %s@%d)", i.Name, i.PID, i.Fence)
	case OpLookup:
		if o.Result == ResOK {
			return fmt.Sprintf("lookup(%s) → %s@%d", i.Name, o.Owner, o.Fence)
		}
		return fmt.Sprintf("lookup(%s) → %s", i.Name, o.Result)
	}
	s := fmt.Sprintf("%s(%s, %s) → %s", i.Kind, i.Name, i.PID, o.Result)
	if o.Result == ResOK || o.Result == ResAlready {
		s += fmt.Sprintf(" %s@%d", o.Owner, o.Fence)
	}
	return s
}

// step is the sequential specification of one name.
func step(st nameState, in Input, out Output) (bool, nameState) {
	switch in.Kind {
	case OpRegister:
		return stepRegister(st, in, out)
	case OpReRegister:
		return stepReRegister(st, in, out)
	case OpUnregister:
		return stepUnregister(st, in, out)
	case OpLookup:
		switch out.Result {
		case ResOK:
			ok := st.Present && st.Owner == out.Owner && st.fenceMatches(out.Fence)
			return ok, st.withFence(out.Fence)
		case ResNotFound:
			return !st.Present, st
		}
		return true, st
	case OpRemoved:
		ok := st.Present && st.Owner == in.PID && st.fenceMatches(in.Fence)
		return ok, st.withFence(in.Fence).removed()
	}
	return false, st
}

func stepRegister(st nameState, in Input, out Output) (bool, nameState) {
	switch out.Result {
	case ResOK:
		return !st.Present && st.newFence(out.Fence), st.created(in.PID, out.Fence)
	case ResAlready:
		ok := st.Present && st.Owner == out.Owner && st.fenceMatches(out.Fence)
		return ok, st.withFence(out.Fence)
	case ResOwnerGone:
		return true, st // the owner's incarnation was purged: nothing happens
	case ResUnknown:
		if st.Present {
			return true, st // it failed with AlreadyRegistered
		}
		return true, st.created(in.PID, 0)
	}
	return false, st
}

func stepReRegister(st nameState, in Input, out Output) (bool, nameState) {
	switch out.Result {
	case ResOK:
		if st.Present && st.Owner == in.PID {
			return st.fenceMatches(out.Fence), st.withFence(out.Fence)
		}
		return st.newFence(out.Fence), st.created(in.PID, out.Fence)
	case ResOwnerGone:
		return true, st
	case ResUnknown:
		if st.Present && st.Owner == in.PID {
			return true, st
		}
		return true, st.created(in.PID, 0)
	}
	return false, st
}

func stepUnregister(st nameState, in Input, out Output) (bool, nameState) {
	mine := st.Present && st.Owner == in.PID
	switch out.Result {
	case ResOK:
		return mine, st.removed()
	case ResNotFound:
		return !st.Present, st
	case ResNotOwner:
		return st.Present && st.Owner != in.PID, st
	case ResUnknown:
		if mine {
			return true, st.removed()
		}
		return true, st
	}
	return false, st
}

// partitionByName splits a history into one sub-history per name, in name
// order (so reports are stable).
func partitionByName(history []porcupine.Operation) [][]porcupine.Operation {
	by := map[string][]porcupine.Operation{}
	for _, op := range history {
		n := op.Input.(Input).Name
		by[n] = append(by[n], op)
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][]porcupine.Operation, 0, len(names))
	for _, n := range names {
		out = append(out, by[n])
	}
	return out
}
