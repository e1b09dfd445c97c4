package cluster_test

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/test/cluster"
	"github.com/roster-dev/roster/transport"
)

// ExampleCheckLinearizable checks a small hand-written history against the
// name-table model: a register, a competing register that sees the owner,
// and a consistent read after a purge of the owner's node.
func ExampleCheckLinearizable() {
	a := transport.PID{Node: "n1", Incarnation: 1, Serial: 1}
	b := transport.PID{Node: "n2", Incarnation: 1, Serial: 1}
	h := cluster.NewHistory()
	h.Add(0, cluster.Input{Kind: cluster.OpRegister, Name: "db", PID: a}, 0,
		cluster.Output{Result: cluster.ResOK, Owner: a, Fence: 5}, 10)
	h.Add(1, cluster.Input{Kind: cluster.OpRegister, Name: "db", PID: b}, 5,
		cluster.Output{Result: cluster.ResAlready, Owner: a, Fence: 5}, 12)
	h.Add(-1, cluster.Input{Kind: cluster.OpRemoved, Name: "db", PID: a, Fence: 5}, 0,
		cluster.Output{}, 20)
	h.Add(1, cluster.Input{Kind: cluster.OpLookup, Name: "db"}, 21,
		cluster.Output{Result: cluster.ResNotFound}, 22)
	fmt.Println(cluster.CheckLinearizable(h.Operations(), time.Second, "example").Result)

	// A read that misses an acknowledged registration is a violation.
	bad := cluster.NewHistory()
	bad.Add(0, cluster.Input{Kind: cluster.OpRegister, Name: "db", PID: a}, 0,
		cluster.Output{Result: cluster.ResOK, Owner: a, Fence: 5}, 10)
	bad.Add(1, cluster.Input{Kind: cluster.OpLookup, Name: "db"}, 11,
		cluster.Output{Result: cluster.ResNotFound}, 12)
	fmt.Println(porcupine.CheckOperations(cluster.NameModel(), bad.Operations()))
	// Output:
	// Ok
	// false
}
