package node

import (
	"errors"
	"sync"
	"testing"

	"github.com/roster-dev/roster/local"
)

// recorder is an ExitListener that records calls.
type recorder struct {
	mu   sync.Mutex
	pids []PID
	errs []error
}

func (r *recorder) OwnerExited(pid PID, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pids = append(r.pids, pid)
	r.errs = append(r.errs, reason)
}

func (r *recorder) reasons() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func TestAttachDetach(t *testing.T) {
	n := newTestNode(t, "a", nil)
	boom := errors.New("boom")

	a, b := &recorder{}, &recorder{}
	pid := spawnWaiter(t, n)
	for _, l := range []*recorder{a, a, b} {
		if err := n.Attach(pid, l); err != nil {
			t.Fatal(err)
		}
	}
	n.Detach(pid, a) // a attached twice: still attached once
	n.Detach(pid, b)
	if err := n.Send(t.Context(), pid, boom); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a called", func() error {
		if len(a.reasons()) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	if got := a.reasons(); len(got) != 1 || got[0] != boom {
		t.Fatalf("a got %v, want exactly [boom]", got)
	}
	if got := b.reasons(); len(got) != 0 {
		t.Fatalf("detached b got %v", got)
	}
	if err := n.Attach(pid, a); !errors.Is(err, local.ErrNoProc) || !errors.Is(err, ErrNoProc) {
		t.Fatalf("attach to dead: %v", err)
	}
	if err := n.Attach(PID{Node: "b", Incarnation: 1, Serial: 1}, a); !errors.Is(err, local.ErrNoProc) {
		t.Fatalf("attach to remote: %v", err)
	}
	n.Detach(pid, a) // no-op on a dead pid
}
