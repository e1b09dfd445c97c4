package global

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// walWith writes batches of 10 entries until n are stored (each StoreLogs
// returned: acknowledged), closes the WAL and returns the segment path.
func walWith(t *testing.T, dir string, n int) string {
	t.Helper()
	w, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i += 10 {
		var batch []*raft.Log
		for j := i; j < i+10 && j <= n; j++ {
			batch = append(batch, &raft.Log{Index: uint64(j), Term: 1, Type: raft.LogCommand, Data: fmt.Appendf(nil, "entry %d", j)})
		}
		if err := w.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	return segs[0]
}

// reopen opens dir's WAL and returns its last index.
func reopen(t *testing.T, dir string) (uint64, error) {
	t.Helper()
	w, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		return 0, err
	}
	defer w.Close()
	last, err := w.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	for i := uint64(1); i <= last; i++ {
		if err := w.GetLog(i, &l); err != nil || string(l.Data) != fmt.Sprintf("entry %d", i) {
			t.Fatalf("entry %d after reopen: %q %v", i, l.Data, err)
		}
	}
	return last, nil
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func recoveryPoint(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	end, err := walRecoveryPoint(f)
	if err != nil || end == 0 {
		t.Fatalf("recovery point %d: %v", end, err)
	}
	return end
}

// A torn write is the batch after the last acknowledged one, partly on
// disk: recovery keeps every acknowledged entry.
func TestWALTornTailRecovered(t *testing.T) {
	const acked = 95
	entryFrame := func(n uint32) []byte {
		b := make([]byte, 8+n)
		b[0] = 1 // entry frame
		binary.LittleEndian.PutUint32(b[4:], n)
		for i := 8; i < len(b); i++ {
			b[i] = 0xab
		}
		return b
	}
	for name, torn := range map[string][]byte{
		"partial entry":          entryFrame(40)[:30],
		"entries without commit": append(entryFrame(16), entryFrame(24)...),
		"commit with a bad crc":  append(entryFrame(16), 3, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef),
		"garbage header":         {0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			seg := walWith(t, dir, acked)
			patch(t, seg, recoveryPoint(t, seg), torn)
			last, err := reopen(t, dir)
			if err != nil {
				t.Fatalf("torn tail refused: %v", err)
			}
			if last != acked {
				t.Fatalf("last index %d after a torn write, want %d", last, acked)
			}
		})
	}
}

// Damage before the last acknowledged batch would make raft-wal's recovery
// stop early and drop acknowledged entries: it is refused instead.
func TestWALDamageBeforeAckedEntriesRefused(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, seg string){
		"frame header zeroed": func(t *testing.T, seg string) { patch(t, seg, 32, make([]byte, 8)) },
		"frame header garbage": func(t *testing.T, seg string) {
			patch(t, seg, 32, []byte{0x66, 0x66, 0x66, 0x66, 0, 0, 0, 0})
		},
		"file truncated": func(t *testing.T, seg string) {
			if err := os.Truncate(seg, recoveryPoint(t, seg)-12); err != nil {
				t.Fatal(err)
			}
		},
		"segment cut to its data": func(t *testing.T, seg string) {
			if err := os.Truncate(seg, recoveryPoint(t, seg)); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			seg := walWith(t, dir, 95)
			damage(t, seg)
			last, err := reopen(t, dir)
			if !errors.Is(err, ErrCorruptDataDir) {
				t.Fatalf("damaged segment opened (last index %d, err %v), want ErrCorruptDataDir", last, err)
			}
			t.Log(err)
		})
	}
}
