package global

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// scaleNames is how many names the scale measurements use: 1,000,000 with
// ROSTER_SCALE=1, 20,000 otherwise (CI).
func scaleNames() int {
	if os.Getenv("ROSTER_SCALE") != "" {
		return 1_000_000
	}
	return 20_000
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestScaleReplicaMemory fills one replica (the FSM, as raft applies to it)
// with names owned by one process each, spread over 3 nodes, in entries of
// 512 commands, and prints the heap bytes per name, the snapshot's time and
// size and the restore time. It asserts only that nothing was lost; the
// figures are printed:
//
//	ROSTER_SCALE=1 go test -run TestScaleReplicaMemory -v ./global/
func TestScaleReplicaMemory(t *testing.T) {
	n := scaleNames()
	before := heapInUse()
	l := newFSMLog(t)
	batch := make([]command, 0, 512)
	for i := range n {
		batch = append(batch, command{
			Op: opRegister, Name: "service/instance-" + strconv.Itoa(i),
			Owner: pid("node-"+strconv.Itoa(i%3), 1764590000000000000+uint64(i%3), uint64(i+1)),
		})
		if len(batch) == cap(batch) || i == n-1 {
			for _, r := range l.apply(batch...) {
				if r.Code != codeOK {
					t.Fatalf("register: %+v", r)
				}
			}
			batch = batch[:0]
		}
	}
	// The dedup table and event ring are bounded (dedupSize, 4096 events)
	// whatever the number of names: count them apart.
	after := heapInUse()
	if got := len(l.f.names); got != n {
		t.Fatalf("%d names, want %d", got, n)
	}
	t0 := time.Now()
	data := snapshotBytes(t, l.f)
	snapTime := time.Since(t0)
	t0 = time.Now()
	g := newFSM(nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	restoreTime := time.Since(t0)
	if len(g.names) != n || g.order.Len() != n {
		t.Fatalf("restored %d names (%d sorted), want %d", len(g.names), g.order.Len(), n)
	}
	t.Logf("names %d: heap %.0f B/name (dedup table and event ring included, %d and %d entries), snapshot %.1f MB in %v (%.0f B/name), restore %v",
		n, float64(after-before)/float64(n), l.f.dedupQ.len(), l.f.ring.n, float64(len(data))/1e6, snapTime.Round(time.Millisecond),
		float64(len(data))/float64(n), restoreTime.Round(time.Millisecond))
	runtime.KeepAlive(l)
}
