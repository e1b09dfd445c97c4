package global

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzApplyEntry feeds arbitrary log entries to the FSM: Apply must never
// panic and must answer every entry.
func FuzzApplyEntry(f *testing.F) {
	good, _ := encodeEntry([]command{{Version: commandVersion, Op: opRegister, Name: "a", Owner: pid("n1", 1, 1), Req: reqID{1, 1}}})
	f.Add(good)
	f.Add([]byte{entryFormatBatch})
	f.Add([]byte{entryFormatBatch, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newFSM(nil)
		res, ok := m.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data}).([]result)
		if !ok || len(res) == 0 && len(data) > 0 && data[0] != entryFormatBatch {
			t.Fatalf("no answer for %x", data)
		}
	})
}

// FuzzRestore feeds arbitrary snapshots to Restore: it either succeeds or
// fails with ErrCorruptSnapshot, never panics.
func FuzzRestore(f *testing.F) {
	l := &fsmLog{t: &testing.T{}, f: newFSM(nil)}
	for _, c := range randomCommands(1, 50) {
		l.apply(c)
	}
	s, _ := l.f.Snapshot()
	var buf bytes.Buffer
	_ = s.(*fsmSnapshot).write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := newFSM(nil).Restore(io.NopCloser(bytes.NewReader(data)))
		if err != nil && !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
