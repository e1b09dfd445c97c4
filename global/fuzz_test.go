package global

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// seededFSM is an FSM with a little state: 50 random commands applied.
func seededFSM() *fsm {
	l := &fsmLog{t: &testing.T{}, f: newFSM(nil)}
	for _, c := range randomCommands(1, 50) {
		l.apply(c)
	}
	return l.f
}

// snapBytes is f's snapshot as written to disk.
func snapBytes(t *testing.T, f *fsm) []byte {
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

// FuzzApplyEntry feeds arbitrary log entries to the FSM. Apply must answer
// every entry (one result per command of a well-formed batch), and it must
// be deterministic — two replicas in the same state that apply the same
// entry end in the same state (the same snapshot bytes) with the same
// results — and the state it leaves must survive a snapshot round trip.
func FuzzApplyEntry(f *testing.F) {
	good, _ := encodeEntry([]command{{Version: commandVersion, Op: opRegister, Name: "a", Owner: pid("n1", 1, 1), Req: reqID{1, 1}}})
	f.Add(good)
	two, _ := encodeEntry(randomCommands(2, 2))
	f.Add(two)
	f.Add([]byte{entryFormatBatch})
	f.Add([]byte{entryFormatBatch, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := seededFSM(), seededFSM()
		log := &raft.Log{Index: 1000, Type: raft.LogCommand, Data: data}
		ra, ok := a.Apply(log).([]result)
		if !ok || len(ra) == 0 && len(data) > 0 && data[0] != entryFormatBatch {
			t.Fatalf("no answer for %x", data)
		}
		if cmds, err := decodeEntry(data); err == nil && len(ra) != len(cmds) {
			t.Fatalf("%d results for %d commands", len(ra), len(cmds))
		}
		rb, _ := b.Apply(&raft.Log{Index: 1000, Type: raft.LogCommand, Data: bytes.Clone(data)}).([]result)
		sa, sb := snapBytes(t, a), snapBytes(t, b)
		if !bytes.Equal(sa, sb) || len(ra) != len(rb) {
			t.Fatalf("two replicas diverged applying %x", data)
		}
		for i := range ra {
			if ra[i] != rb[i] {
				t.Fatalf("result %d differs: %+v vs %+v", i, ra[i], rb[i])
			}
		}
		c := newFSM(nil)
		if err := c.Restore(io.NopCloser(bytes.NewReader(sa))); err != nil {
			t.Fatalf("the state after %x does not restore: %v", data, err)
		}
		if !bytes.Equal(snapBytes(t, c), sa) {
			t.Fatalf("snapshot round trip changed the state after %x", data)
		}
	})
}

// FuzzRestore feeds arbitrary snapshots to Restore on an FSM holding
// state. A failure is ErrCorruptSnapshot and leaves the state exactly as
// it was (no partial restore); a success yields a state whose snapshot
// restores to itself (snapshot(restore(x)) is a fixed point).
func FuzzRestore(f *testing.F) {
	var buf bytes.Buffer
	s, _ := seededFSM().Snapshot()
	_ = s.(*fsmSnapshot).write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	if n := buf.Len(); n > 8 {
		f.Add(buf.Bytes()[:n/2]) // truncated
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := seededFSM()
		before := snapBytes(t, m)
		err := m.Restore(io.NopCloser(bytes.NewReader(data)))
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("untyped error %v", err)
			}
			if !bytes.Equal(snapBytes(t, m), before) {
				t.Fatalf("a failed restore changed the state")
			}
			return
		}
		got := snapBytes(t, m)
		again := newFSM(nil)
		if err := again.Restore(io.NopCloser(bytes.NewReader(got))); err != nil {
			t.Fatalf("a restored state's snapshot does not restore: %v", err)
		}
		if !bytes.Equal(snapBytes(t, again), got) || again.appliedIndex() != m.appliedIndex() {
			t.Fatalf("snapshot(restore(x)) is not a fixed point")
		}
	})
}
