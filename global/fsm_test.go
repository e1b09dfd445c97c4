package global

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/transport"
)

func pid(node string, inc, serial uint64) transport.PID {
	return transport.PID{Node: transport.NodeID(node), Incarnation: inc, Serial: serial}
}

// fsmLog feeds commands to an FSM as raft entries at increasing indexes.
type fsmLog struct {
	t   *testing.T
	f   *fsm
	idx uint64
	req uint64
}

func newFSMLog(t *testing.T) *fsmLog { return &fsmLog{t: t, f: newFSM(nil)} }

// apply applies cmds as one entry and returns their results.
func (l *fsmLog) apply(cmds ...command) []result {
	l.t.Helper()
	for i := range cmds {
		if cmds[i].Version == 0 {
			cmds[i].Version = commandVersion
		}
		if cmds[i].Req == (reqID{}) {
			l.req++
			cmds[i].Req = reqID{Hi: 1, Lo: l.req}
		}
	}
	data, err := encodeEntry(cmds)
	if err != nil {
		l.t.Fatal(err)
	}
	l.idx++
	res, ok := l.f.Apply(&raft.Log{Index: l.idx, Type: raft.LogCommand, Data: data}).([]result)
	if !ok || len(res) != len(cmds) {
		l.t.Fatalf("apply returned %#v", res)
	}
	return res
}

func (l *fsmLog) one(c command) result { l.t.Helper(); return l.apply(c)[0] }

func TestFSMRegister(t *testing.T) {
	l := newFSMLog(t)
	a, b := pid("n1", 7, 1), pid("n2", 9, 1)
	r := l.one(command{Op: opRegister, Name: "svc", Owner: a, Meta: []byte("m")})
	if r.Code != codeOK || r.Fence != makeFence(1, 0) || FenceIndex(r.Fence) != 1 || r.Index != 1 {
		t.Fatalf("register: %+v", r)
	}
	r = l.one(command{Op: opRegister, Name: "svc", Owner: b})
	err := r.err("svc")
	var are *AlreadyRegisteredError
	if !errors.As(err, &are) || are.Owner != a || are.Fence != makeFence(1, 0) || !errors.Is(err, ErrAlreadyRegistered) {
		t.Fatalf("second register: %v", err)
	}
	reg, ok := l.f.lookup("svc")
	if !ok || reg.Owner != a || string(reg.Meta) != "m" || reg.Fence != makeFence(1, 0) {
		t.Fatalf("lookup: %+v %v", reg, ok)
	}
	if r := l.one(command{Op: opRegister, Name: "", Owner: a}); !errors.Is(r.err(""), ErrNameEmpty) {
		t.Fatalf("empty name: %+v", r)
	}
}

func TestFSMReRegisterAndMeta(t *testing.T) {
	l := newFSMLog(t)
	a, b := pid("n1", 7, 1), pid("n2", 9, 1)
	l.one(command{Op: opRegister, Name: "svc", Owner: a})
	if r := l.one(command{Op: opUpdateMeta, Name: "svc", Owner: b, Meta: []byte("x")}); r.Code != codeNotOwner {
		t.Fatalf("meta by non-owner: %+v", r)
	}
	if r := l.one(command{Op: opUpdateMeta, Name: "svc", Owner: a, Meta: []byte("x")}); r.Code != codeOK || r.Fence != makeFence(1, 0) {
		t.Fatalf("meta: %+v", r)
	}
	r := l.one(command{Op: opReRegister, Name: "svc", Owner: b})
	if r.Code != codeOK || r.Fence != makeFence(4, 0) {
		t.Fatalf("re-register: %+v", r)
	}
	if got := l.f.collect(l.f.namesOfPID(a)); len(got) != 0 {
		t.Fatalf("old owner still indexed: %+v", got)
	}
	if got := l.f.collect(l.f.namesOfNode("n2", nil)); len(got) != 1 || got[0].Owner != b {
		t.Fatalf("byNode n2: %+v", got)
	}
	var reasons []Reason
	l.f.ring.each(func(e Event) { reasons = append(reasons, e.Reason) })
	want := []Reason{ReasonRegister, ReasonMeta, ReasonConflict, ReasonReRegister}
	if !equalSlices(reasons, want) {
		t.Fatalf("events %v, want %v", reasons, want)
	}
}

// Registrations of one name packed into one raft entry get distinct,
// increasing fences, so a fenced send identifies exactly one of them.
func TestFSMFencesUniqueWithinEntry(t *testing.T) {
	l := newFSMLog(t)
	a, b, c := pid("n1", 7, 1), pid("n2", 9, 1), pid("n3", 5, 1)
	res := l.apply(
		command{Op: opRegister, Name: "x", Owner: a},
		command{Op: opUnregister, Name: "x", Owner: a},
		command{Op: opRegister, Name: "x", Owner: b},
		command{Op: opReRegister, Name: "x", Owner: c},
	)
	fences := []uint64{res[0].Fence, res[2].Fence, res[3].Fence}
	for i, f := range fences {
		if FenceIndex(f) != 1 || (i > 0 && f <= fences[i-1]) {
			t.Fatalf("fences %v", fences)
		}
	}
	if reg, _ := l.f.lookup("x"); reg.Fence != fences[2] || reg.Owner != c {
		t.Fatalf("current %+v", reg)
	}
}

func TestFSMUnregister(t *testing.T) {
	l := newFSMLog(t)
	a, b := pid("n1", 7, 1), pid("n2", 9, 1)
	l.one(command{Op: opRegister, Name: "svc", Owner: a})
	if r := l.one(command{Op: opUnregister, Name: "svc", Owner: b}); !errors.Is(r.err("svc"), ErrNotOwner) {
		t.Fatalf("non-owner: %+v", r)
	}
	if r := l.one(command{Op: opUnregister, Name: "nope", Owner: a}); !errors.Is(r.err("nope"), ErrNotFound) {
		t.Fatalf("missing: %+v", r)
	}
	if r := l.one(command{Op: opUnregister, Name: "svc", Force: true}); r.Code != codeOK {
		t.Fatalf("force: %+v", r)
	}
	if _, ok := l.f.lookup("svc"); ok || l.f.order.Len() != 0 || len(l.f.byNode) != 0 {
		t.Fatal("name or index left behind")
	}
}

func TestFSMUnregisterPIDAndPurge(t *testing.T) {
	l := newFSMLog(t)
	old, cur, other := pid("n1", 7, 1), pid("n1", 8, 1), pid("n2", 9, 1)
	l.apply(
		command{Op: opRegister, Name: "a", Owner: old},
		command{Op: opRegister, Name: "b", Owner: old},
		command{Op: opRegister, Name: "c", Owner: cur},
		command{Op: opRegister, Name: "d", Owner: other},
		command{Op: opRegister, Name: "e", Owner: pid("n1", 6, 3)},
	)
	if r := l.one(command{Op: opUnregisterPID, Owner: other, Reason: ReasonProcessExit}); r.Count != 1 {
		t.Fatalf("unregister pid: %+v", r)
	}
	if r := l.one(command{Op: opPurge, Node: "n1", Incarnation: 6, Reason: ReasonNodeDown}); r.Count != 1 {
		t.Fatalf("purge incarnation: %+v", r)
	}
	if r := l.one(command{Op: opPurge, Node: "n1", Incarnation: 8, Except: true, Reason: ReasonRestart}); r.Count != 2 {
		t.Fatalf("purge except: %+v", r)
	}
	if got := l.f.list(""); len(got) != 1 || got[0].Name != "c" {
		t.Fatalf("left: %+v", got)
	}
	for _, p := range []transport.PID{old, pid("n1", 6, 9)} {
		if r := l.one(command{Op: opRegister, Name: "late", Owner: p}); !errors.Is(r.err("late"), ErrOwnerGone) {
			t.Fatalf("late register by %v: %+v", p, r)
		}
	}
	if r := l.one(command{Op: opRegister, Name: "late", Owner: cur}); r.Code != codeOK {
		t.Fatalf("live incarnation register: %+v", r)
	}
}

// A purged incarnation that turns out alive (a pause, a partition) is
// revived: its processes may register again, its purged names stay gone,
// and the revival survives a snapshot.
func TestFSMReviveIncarnation(t *testing.T) {
	l := newFSMLog(t)
	p := pid("n1", 7, 1)
	l.one(command{Op: opRegister, Name: "a", Owner: p})
	l.one(command{Op: opPurge, Node: "n1", Incarnation: 7, Reason: ReasonNodeDown})
	l.one(command{Op: opPurge, Node: "n2", Incarnation: 3, Reason: ReasonNodeDown})
	if r := l.one(command{Op: opRegister, Name: "b", Owner: p}); !errors.Is(r.err("b"), ErrOwnerGone) {
		t.Fatalf("register while purged: %+v", r)
	}
	if r := l.one(command{Op: opRevive, Node: "n1", Incarnation: 7}); r.Count != 1 {
		t.Fatalf("revive: %+v", r)
	}
	if r := l.one(command{Op: opRevive, Node: "n1", Incarnation: 7}); r.Count != 0 {
		t.Fatalf("second revive is a no-op: %+v", r)
	}
	if r := l.one(command{Op: opRevive, Node: "n1"}); r.Code == codeOK {
		t.Fatalf("revive without incarnation accepted: %+v", r)
	}
	if _, ok := l.f.names["a"]; ok {
		t.Fatal("revive brought a purged name back")
	}
	if r := l.one(command{Op: opRegister, Name: "b", Owner: p}); r.Code != codeOK {
		t.Fatalf("register after revive: %+v", r)
	}
	// Snapshot and restore: n1/7 stays revived, n2/3 stays purged.
	snap, err := l.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*fsmSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	g := newFSM(nil)
	if err := g.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if g.isPurged(p) || !g.isPurged(pid("n2", 3, 1)) {
		t.Fatalf("after restore: n1/7 purged=%v n2/3 purged=%v", g.isPurged(p), g.isPurged(pid("n2", 3, 1)))
	}
}

func TestFSMDedup(t *testing.T) {
	l := newFSMLog(t)
	c := command{Op: opRegister, Name: "svc", Owner: pid("n1", 7, 1), Req: reqID{Hi: 5, Lo: 5}}
	first := l.one(c)
	again := l.one(c) // a retried forward lands in a later entry
	if first != again || first.Code != codeOK {
		t.Fatalf("retry: %+v then %+v", first, again)
	}
	n := 0
	l.f.ring.each(func(Event) { n++ })
	if n != 1 {
		t.Fatalf("%d events for one registration", n)
	}
}

func TestFSMBadEntries(t *testing.T) {
	f := newFSM(nil)
	for i, data := range [][]byte{nil, {9}, {entryFormatBatch, 0xc1}, {entryFormatBatch, 0x91, 0x01}} {
		res, ok := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data}).([]result)
		if !ok || len(res) != 1 || res[0].Code == codeOK {
			t.Fatalf("entry %x: %+v", data, res)
		}
	}
	l := newFSMLog(t)
	if r := l.one(command{Op: 99, Name: "x"}); !errors.Is(r.err("x"), ErrBadCommand) {
		t.Fatalf("unknown op: %+v", r)
	}
	if r := l.one(command{Op: opRegister, Version: 9, Name: "x", Owner: pid("n", 1, 1)}); !errors.Is(r.err("x"), ErrUnsupportedVersion) {
		t.Fatalf("future version: %+v", r)
	}
}

func TestValidateName(t *testing.T) {
	cases := map[string]error{
		"":                        ErrNameEmpty,
		string(make([]byte, 256)): ErrNameTooLong,
		"ok\xff":                  ErrNameInvalid,
		"fine/name ünïcode":       nil,
		string(bytes.Repeat([]byte("a"), MaxNameLen)): nil,
	}
	for name, want := range cases {
		if err := ValidateName(name); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("ValidateName(%q) = %v, want %v", name, err, want)
		}
	}
}

// randomCommands returns a seeded mix of every command over few names.
func randomCommands(seed uint64, n int) []command {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]command, n)
	for i := range out {
		owner := pid([]string{"n1", "n2", "n3"}[rng.IntN(3)], uint64(1+rng.IntN(500)), uint64(1+rng.IntN(4)))
		name := "name-" + strconv.Itoa(rng.IntN(100))
		c := command{Name: name, Owner: owner, Meta: []byte{byte(i)}}
		switch k := rng.IntN(20); {
		case k < 11:
			c.Op = opRegister
		case k < 13:
			c.Op = opReRegister
		case k < 15:
			c.Op, c.Meta = opUnregister, nil
			c.Force = rng.IntN(2) == 0
		case k < 17:
			c.Op = opUpdateMeta
		case k < 19:
			c.Op, c.Reason = opUnregisterPID, ReasonProcessExit
		default:
			c = command{Op: opPurge, Node: owner.Node, Incarnation: owner.Incarnation, Except: rng.IntN(2) == 0, Reason: ReasonNodeDown}
		}
		out[i] = c
	}
	return out
}

func snapshotBytes(t *testing.T, f *fsm) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.(*fsmSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFSMDeterminism(t *testing.T) {
	const seed = 42
	a, b := newFSMLog(t), newFSMLog(t)
	cmds := randomCommands(seed, 3000)
	for i := 0; i < len(cmds); i += 7 {
		batch := cmds[i:min(i+7, len(cmds))]
		ra := a.apply(append([]command(nil), batch...)...)
		rb := b.apply(append([]command(nil), batch...)...)
		if !equalSlices(ra, rb) {
			t.Fatalf("seed %d: results differ at %d", seed, i)
		}
	}
	if !bytes.Equal(snapshotBytes(t, a.f), snapshotBytes(t, b.f)) {
		t.Fatalf("seed %d: replicas differ", seed)
	}
	if len(a.f.names) == 0 || a.f.purgedQ.len() == 0 {
		t.Fatalf("seed %d: sequence too tame: %d names, %d purged", seed, len(a.f.names), a.f.purgedQ.len())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	l := newFSMLog(t)
	for i := range eventRingSize + 100 { // wrap the event ring
		l.apply(command{Op: opRegister, Name: "bulk-" + strconv.Itoa(i), Owner: pid("n4", 1, uint64(1+i%7))})
	}
	for _, c := range randomCommands(7, 3000) {
		l.apply(c)
	}
	data := snapshotBytes(t, l.f)
	g := newFSM(nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, snapshotBytes(t, g)) {
		t.Fatal("restored state differs")
	}
	if g.appliedIndex() != l.idx || g.ring.compacted != l.f.ring.compacted || g.ring.compacted == 0 {
		t.Fatalf("applied %d/%d compacted %d/%d", g.appliedIndex(), l.idx, g.ring.compacted, l.f.ring.compacted)
	}
	if !reflect.DeepEqual(l.f.owners(), g.owners()) {
		t.Fatalf("owner index differs: %v, restored %v", l.f.owners(), g.owners())
	}
	for node := range l.f.byNode {
		if !reflect.DeepEqual(l.f.namesOfNode(node, nil), g.namesOfNode(node, nil)) {
			t.Fatalf("names of node %s differ", node)
		}
	}
	for _, r := range l.f.names {
		if !reflect.DeepEqual(l.f.namesOfPID(r.Owner), g.namesOfPID(r.Owner)) {
			t.Fatalf("names of pid %v differ", r.Owner)
		}
	}
	// The dedup table survived: replaying an old request returns its result.
	var id reqID
	var want result
	l.f.dedupQ.each(func(r reqID) { id, want = r, l.f.dedup[r] })
	if got, ok := g.dedup[id]; !ok || got != want {
		t.Fatalf("dedup %v: %+v, want %+v", id, got, want)
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	l := newFSMLog(t)
	for _, c := range randomCommands(3, 200) {
		l.apply(c)
	}
	data := snapshotBytes(t, l.f)
	g := newFSM(nil)
	g.names["keep"] = Registration{Name: "keep"}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{nil, []byte("garbage"), data[:len(data)/2], data[:len(data)-1]}
	for i := 0; i < 50; i++ {
		bad := append([]byte(nil), data...)
		bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		inputs = append(inputs, bad)
	}
	for i, in := range inputs {
		err := g.Restore(io.NopCloser(bytes.NewReader(in)))
		if i < 4 && !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("input %d: %v", i, err)
		}
		if err != nil && !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("input %d: untyped error %v", i, err)
		}
		if err != nil {
			if _, ok := g.names["keep"]; !ok {
				t.Fatalf("input %d: failed restore changed state", i)
			}
		} else {
			g.names["keep"] = Registration{Name: "keep"}
		}
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
