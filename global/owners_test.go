package global

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/roster-dev/roster/transport"
)

// ownerCommands is a seeded mix of commands over few nodes, incarnations,
// processes and names, so owners come and go and processes own several
// names.
func ownerCommands(rng *rand.Rand, n int) []command {
	out := make([]command, n)
	for i := range out {
		owner := pid("n"+strconv.Itoa(1+rng.IntN(4)), uint64(1+rng.IntN(3)), uint64(1+rng.IntN(6)))
		c := command{Name: "name-" + strconv.Itoa(rng.IntN(60)), Owner: owner}
		switch k := rng.IntN(20); {
		case k < 10:
			c.Op = opRegister
		case k < 13:
			c.Op = opReRegister
		case k < 16:
			c.Op, c.Force = opUnregister, rng.IntN(2) == 0
		case k < 18:
			c.Op, c.Reason = opUnregisterPID, ReasonProcessExit
		case k < 19:
			c = command{Op: opPurge, Node: owner.Node, Incarnation: owner.Incarnation, Except: rng.IntN(2) == 0, Reason: ReasonNodeDown}
		default:
			c = command{Op: opRevive, Node: owner.Node, Incarnation: owner.Incarnation}
		}
		out[i] = c
	}
	return out
}

// checkIndexes compares every derived index of f with a scan of f.names.
func checkIndexes(t *testing.T, f *fsm, step string) {
	t.Helper()
	owners := map[transport.NodeID][]uint64{}
	byNode := map[transport.NodeID][]string{}
	byPID := map[transport.PID][]string{}
	var all []string
	for n, r := range f.names {
		if !slices.Contains(owners[r.Owner.Node], r.Owner.Incarnation) {
			owners[r.Owner.Node] = append(owners[r.Owner.Node], r.Owner.Incarnation)
		}
		byNode[r.Owner.Node] = append(byNode[r.Owner.Node], n)
		byPID[r.Owner] = append(byPID[r.Owner], n)
		all = append(all, n)
	}
	for _, s := range owners {
		slices.Sort(s)
	}
	if got := f.owners(); !reflect.DeepEqual(got, owners) {
		t.Fatalf("%s: owners index %v, scan %v", step, got, owners)
	}
	for node, want := range byNode {
		slices.Sort(want)
		if got := f.namesOfNode(node, nil); !slices.Equal(got, want) {
			t.Fatalf("%s: names of %s %v, scan %v", step, node, got, want)
		}
	}
	for p, want := range byPID {
		slices.Sort(want)
		if got := f.namesOfPID(p); !slices.Equal(got, want) {
			t.Fatalf("%s: names of %v %v, scan %v", step, p, got, want)
		}
	}
	slices.Sort(all)
	var order []string
	f.order.Ascend(func(n string) bool { order = append(order, n); return true })
	if !slices.Equal(order, all) {
		t.Fatalf("%s: sorted index %v, names %v", step, order, all)
	}
}

// The owner index (reconcile's Owners) and the sorted name index agree with
// a brute-force scan after every entry of random commands, and after a
// snapshot round trip.
func TestOwnerIndexMatchesScan(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		l := newFSMLog(t)
		for step := 0; step < 150; step++ {
			l.apply(ownerCommands(rng, 1+rng.IntN(5))...)
			checkIndexes(t, l.f, fmt.Sprintf("seed %d step %d", seed, step))
		}
		g := newFSM(nil)
		if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, l.f)))); err != nil {
			t.Fatal(err)
		}
		checkIndexes(t, g, fmt.Sprintf("seed %d restored", seed))
		if !reflect.DeepEqual(g.owners(), l.f.owners()) {
			t.Fatalf("seed %d: restored owners %v, want %v", seed, g.owners(), l.f.owners())
		}
	}
}

// Pages cover a prefix listing exactly once, in order, whatever the limit.
func TestPageCoversListing(t *testing.T) {
	l := newFSMLog(t)
	for i := range 250 {
		l.one(command{Op: opRegister, Name: fmt.Sprintf("svc/%03d", i), Owner: pid("n1", 1, uint64(i+1))})
		l.one(command{Op: opRegister, Name: fmt.Sprintf("job/%03d", i), Owner: pid("n1", 1, uint64(i+1))})
	}
	for _, prefix := range []string{"", "svc/", "svc/1", "job/", "nope"} {
		want := l.f.list(prefix)
		for _, limit := range []int{1, 7, 100, 250, 1000} {
			var got []Registration
			after, pages := "", 0
			for {
				regs, more := l.f.page(prefix, after, limit)
				got = append(got, regs...)
				pages++
				if len(regs) > limit || (more && len(regs) != limit) {
					t.Fatalf("prefix %q limit %d: page of %d, more %v", prefix, limit, len(regs), more)
				}
				if !more {
					break
				}
				after = regs[len(regs)-1].Name
			}
			if (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
				t.Fatalf("prefix %q limit %d: pages give %d names, listing %d", prefix, limit, len(got), len(want))
			}
			if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
				t.Fatalf("prefix %q limit %d: %d pages for %d names", prefix, limit, pages, len(want))
			}
		}
	}
	// after need not be a registered name, and sorts before the prefix.
	if regs, _ := l.f.page("svc/", "a", 2); len(regs) != 2 || regs[0].Name != "svc/000" {
		t.Fatalf("page after an earlier key: %+v", regs)
	}
	if regs, _ := l.f.page("svc/", "svc/0995", 3); len(regs) != 3 || regs[0].Name != "svc/100" {
		t.Fatalf("page after an unregistered name: %+v", regs)
	}
}
