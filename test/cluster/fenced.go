package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ErrStaleFence is FencedStore's refusal of a write whose fence is lower
// than one it already accepted.
var ErrStaleFence = errors.New("cluster: stale fence")

// FencedWrite is one write a store saw: who wrote, under which fence
// (0: none given), when (History time) and whether the store accepted it.
type FencedWrite struct {
	Writer   string
	Fence    uint64
	Value    string
	At       int64
	Accepted bool
}

func (w FencedWrite) String() string {
	return fmt.Sprintf("%8.3fs %s fence=%d %q %s", sec(w.At), w.Writer, w.Fence, w.Value, verdictOf(w))
}

func verdictOf(w FencedWrite) string {
	if w.Accepted {
		return "accepted"
	}
	return "rejected"
}

// FencedStore stands in for an external resource that a fenced owner (a
// singleton's instance, an elected leader) writes to, such as a database
// row guarded by a fence column: it rejects a write whose fence is lower
// than the highest it accepted, accepts writes that carry no fence (fence
// 0: it cannot tell), and records every write for CheckFenced. It lives in
// the test process, so every node reaches it whatever the network does —
// as a real external store would. Safe for concurrent use.
type FencedStore struct {
	h       *History
	mu      sync.Mutex
	highest uint64
	writes  []FencedWrite
}

// NewFencedStore returns an empty store timed by h.
func NewFencedStore(h *History) *FencedStore { return &FencedStore{h: h} }

// Write records value from writer under fence, or rejects it with
// ErrStaleFence.
func (s *FencedStore) Write(writer string, fence uint64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := FencedWrite{Writer: writer, Fence: fence, Value: value, At: s.h.Now(), Accepted: fence == 0 || fence >= s.highest}
	s.writes = append(s.writes, w)
	if !w.Accepted {
		return fmt.Errorf("%w: %d < %d", ErrStaleFence, fence, s.highest)
	}
	s.highest = max(s.highest, fence)
	return nil
}

// Writes returns every write recorded so far, in order.
func (s *FencedStore) Writes() []FencedWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// Check is CheckFenced on the store's writes.
func (s *FencedStore) Check() []string { return CheckFenced(s.Writes()) }

// CheckFenced checks the writes one resource accepted (in the order it
// accepted them; rejected ones are ignored) against "owned by at most one
// writer at a time, fenced":
//
//   - accepted fences never decrease;
//   - no two writers (writer and fence) hold it at overlapping times: a
//     writer holds it from its first accepted write to its last, and a
//     write accepted from another writer in between is a violation.
//
// Each violation names the writes involved. Writes may come from any
// recorder (a FencedStore, or the user's own store's log).
func CheckFenced(writes []FencedWrite) []string {
	var out []string
	type holder struct {
		writer      string
		fence       uint64
		first, last int
	}
	var acc []FencedWrite
	for _, w := range writes {
		if w.Accepted {
			acc = append(acc, w)
		}
	}
	var top uint64
	var topAt int
	holders := map[[2]string]*holder{}
	var order []*holder
	for i, w := range acc {
		if w.Fence != 0 && w.Fence < top {
			out = append(out, fmt.Sprintf("fence went down: %v accepted after %v", w, acc[topAt]))
		}
		if w.Fence > top {
			top, topAt = w.Fence, i
		}
		k := [2]string{w.Writer, fmt.Sprint(w.Fence)}
		if h := holders[k]; h != nil {
			h.last = i
		} else {
			h = &holder{writer: w.Writer, fence: w.Fence, first: i, last: i}
			holders[k] = h
			order = append(order, h)
		}
	}
	for i, a := range order {
		for _, b := range order[i+1:] {
			if b.first < a.last {
				out = append(out, fmt.Sprintf("two writers at once: %s fence=%d wrote %v..%v, and %s fence=%d wrote %v in between",
					a.writer, a.fence, acc[a.first], acc[a.last], b.writer, b.fence, acc[b.first]))
			}
		}
	}
	return out
}

// FormatWrites renders writes as a history, one line per run of
// consecutive writes by one writer under one fence with one verdict, at
// most limit lines (0: all).
func FormatWrites(writes []FencedWrite, limit int) string {
	var b strings.Builder
	lines := 0
	for i := 0; i < len(writes); lines++ {
		if limit > 0 && lines == limit {
			fmt.Fprintf(&b, "... %d more writes\n", len(writes)-i)
			break
		}
		w, j := writes[i], i+1
		for j < len(writes) && writes[j].Writer == w.Writer && writes[j].Fence == w.Fence && writes[j].Accepted == w.Accepted {
			j++
		}
		if j-i == 1 {
			fmt.Fprintf(&b, "%v\n", w)
		} else {
			last := writes[j-1]
			fmt.Fprintf(&b, "%8.3fs..%.3fs %s fence=%d %d writes (%q..%q) %s\n", sec(w.At), sec(last.At),
				w.Writer, w.Fence, j-i, w.Value, last.Value, verdictOf(w))
		}
		i = j
	}
	return b.String()
}
