package global

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
)

func fsmGo(fn func()) { go fn() }

func TestWatchReplayAndCompaction(t *testing.T) {
	l := newFSMLog(t)
	owner := pid("n1", 1, 1)
	for i := range 10 {
		l.one(command{Op: opRegister, Name: "w/" + strconv.Itoa(i), Owner: owner})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := l.f.watch(ctx, "w/", 8, fsmGo)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recvEvents(t, ch, 3); ev[0].Index != 8 || ev[2].Index != 10 {
		t.Fatalf("replay: %+v", ev)
	}
	l.one(command{Op: opRegister, Name: "other", Owner: owner})
	l.one(command{Op: opUnregister, Name: "w/1", Owner: owner})
	if ev := recvEvents(t, ch, 1); ev[0].Name != "w/1" || ev[0].Type != EventUnregistered || ev[0].Index != 12 {
		t.Fatalf("live: %+v", ev)
	}
	for i := range eventRingSize {
		l.one(command{Op: opRegister, Name: "bulk/" + strconv.Itoa(i), Owner: owner})
	}
	if _, err := l.f.watch(ctx, "", 5, fsmGo); !errors.Is(err, ErrCompacted) {
		t.Fatalf("old index: %v", err)
	}
	if _, err := l.f.watch(ctx, "", l.f.ring.compacted+1, fsmGo); err != nil {
		t.Fatalf("oldest retained index: %v", err)
	}
}

func TestWatchSlowWatcherDropped(t *testing.T) {
	l := newFSMLog(t)
	ch, err := l.f.watch(context.Background(), "", 0, fsmGo)
	if err != nil {
		t.Fatal(err)
	}
	for i := range watchBuffer + 10 { // nobody reads: Apply must not block
		l.one(command{Op: opRegister, Name: strconv.Itoa(i), Owner: pid("n1", 1, 1)})
	}
	var last Event
	n := 0
	for e := range ch {
		last = e
		n++
	}
	if last.Type != EventError || !errors.Is(last.Err, ErrWatcherTooSlow) || n != watchBuffer+1 {
		t.Fatalf("got %d events, last %+v", n, last)
	}
}

func TestWatchClosedByRestore(t *testing.T) {
	l := newFSMLog(t)
	l.one(command{Op: opRegister, Name: "a", Owner: pid("n1", 1, 1)})
	data := snapshotBytes(t, l.f)
	ch, err := l.f.watch(context.Background(), "", 0, fsmGo)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	e, ok := <-ch
	if !ok || e.Type != EventError || !errors.Is(e.Err, ErrCompacted) {
		t.Fatalf("after restore: %+v %v", e, ok)
	}
}
