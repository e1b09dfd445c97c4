package cluster

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/transport"
)

var (
	pa = transport.PID{Node: "n1", Incarnation: 1, Serial: 1}
	pb = transport.PID{Node: "n2", Incarnation: 2, Serial: 1}
)

func op(client int, in Input, call int64, out Output, ret int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func TestModelAcceptsLinearizableHistory(t *testing.T) {
	h := NewHistory()
	h.Add(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10)
	h.Add(1, Input{Kind: OpRegister, Name: "x", PID: pb}, 5, Output{Result: ResAlready, Owner: pa, Fence: 5}, 15)
	// An unknown re-register by b that took effect: a later read sees b.
	h.Add(1, Input{Kind: OpReRegister, Name: "x", PID: pb}, 20, Output{Result: ResUnknown}, 25)
	h.Add(0, Input{Kind: OpLookup, Name: "x"}, 30, Output{Result: ResOK, Owner: pb, Fence: 9}, 35)
	h.Add(0, Input{Kind: OpUnregister, Name: "x", PID: pa}, 40, Output{Result: ResNotOwner}, 45)
	h.Add(2, Input{Kind: OpRemoved, Name: "x", PID: pb, Fence: 9}, 0, Output{}, 60)
	h.Add(0, Input{Kind: OpLookup, Name: "x"}, 61, Output{Result: ResNotFound}, 62)
	// An unknown register that never took effect is fine too.
	h.Add(1, Input{Kind: OpRegister, Name: "y", PID: pb}, 0, Output{Result: ResUnknown}, 1)
	h.Add(0, Input{Kind: OpLookup, Name: "y"}, 70, Output{Result: ResNotFound}, 71)
	if r := CheckLinearizable(h.Operations(), 5*time.Second, "unused"); r.Result != porcupine.Ok {
		t.Fatalf("want Ok, got %s:\n%s", r.Result, r.Detail)
	}
}

func TestModelRejectsViolations(t *testing.T) {
	cases := map[string][]porcupine.Operation{
		"two owners": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(1, Input{Kind: OpRegister, Name: "x", PID: pb}, 20, Output{Result: ResOK, Fence: 7}, 30),
		},
		"lost registration": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(1, Input{Kind: OpLookup, Name: "x"}, 20, Output{Result: ResNotFound}, 30),
		},
		"stale read": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(0, Input{Kind: OpUnregister, Name: "x", PID: pa}, 11, Output{Result: ResOK}, 20),
			op(1, Input{Kind: OpLookup, Name: "x"}, 21, Output{Result: ResOK, Owner: pa, Fence: 5}, 30),
		},
		"wrong fence": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(1, Input{Kind: OpLookup, Name: "x"}, 20, Output{Result: ResOK, Owner: pa, Fence: 6}, 30),
		},
		"later registration with a smaller fence": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(0, Input{Kind: OpUnregister, Name: "x", PID: pa}, 11, Output{Result: ResOK}, 20),
			op(1, Input{Kind: OpRegister, Name: "x", PID: pb}, 21, Output{Result: ResOK, Fence: 3}, 30),
		},
		"re-register by another owner with a smaller fence": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(1, Input{Kind: OpReRegister, Name: "x", PID: pb}, 21, Output{Result: ResOK, Fence: 4}, 30),
		},
		"stale fence read while the same pid's write is pending": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(0, Input{Kind: OpUnregister, Name: "x", PID: pa}, 11, Output{Result: ResOK}, 20),
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 21, Output{Result: ResUnknown}, 100),
			op(1, Input{Kind: OpLookup, Name: "x"}, 30, Output{Result: ResOK, Owner: pa, Fence: 5}, 40),
		},
		"removal of another registration": {
			op(0, Input{Kind: OpRegister, Name: "x", PID: pa}, 0, Output{Result: ResOK, Fence: 5}, 10),
			op(2, Input{Kind: OpRemoved, Name: "x", PID: pb, Fence: 3}, 0, Output{}, 30),
		},
	}
	t.Chdir(t.TempDir()) // artifacts go to ./artifacts
	for name, ops := range cases {
		r := CheckLinearizable(ops, 5*time.Second, "model-test")
		if r.Result != porcupine.Illegal {
			t.Errorf("%s: want Illegal, got %s", name, r.Result)
			continue
		}
		if r.Artifact == "" || r.Detail == "" {
			t.Errorf("%s: no visualisation or detail: %+v", name, r)
		}
	}
}
