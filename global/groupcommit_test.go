package global

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

func TestGroupCommitBatchesWhileBusy(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	goFn := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	release := make(chan struct{})
	sizes := make(chan int, 10)
	flush := func(b []*pending) {
		sizes <- len(b)
		if len(b) == 1 {
			<-release // hold the first batch in flight
		}
		deliverAll(b, result{Count: len(b)})
	}
	g := newGroupCommit(512, 1, 0, flush, stop, goFn)
	goFn(g.run)
	defer func() { close(stop); wg.Wait() }()
	ctx := context.Background()

	first := newPending(command{})
	if err := g.submit(ctx, first); err != nil {
		t.Fatal(err)
	}
	if n := <-sizes; n != 1 { // a lone writer leaves at once
		t.Fatalf("first batch %d", n)
	}
	var ps []*pending
	for range 10 {
		p := newPending(command{})
		if err := g.submit(ctx, p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	close(release)
	if r := <-first.done; r.Count != 1 {
		t.Fatalf("first result %+v", r)
	}
	if n := <-sizes; n != 10 { // everything queued meanwhile shares one flush
		t.Fatalf("second batch %d, want 10", n)
	}
	for _, p := range ps {
		if r := <-p.done; r.Count != 10 {
			t.Fatalf("result %+v", r)
		}
	}
}

func TestWriteErrorClassification(t *testing.T) {
	cases := map[error]errCode{
		raft.ErrNotLeader:        codeNotLeader,
		raft.ErrEnqueueTimeout:   codeNotLeader,
		raft.ErrLeadershipLost:   codeUnknown,
		raft.ErrRaftShutdown:     codeShutdown,
		errors.New("surprising"): codeUnknown,
	}
	for err, want := range cases {
		if got := raftErrCode(err); got != want {
			t.Errorf("%v: code %d, want %d", err, got, want)
		}
	}
	if !codeUnknown.retryable() || !codeNotLeader.retryable() || codeAlreadyRegistered.retryable() {
		t.Fatal("retryable codes")
	}
	// Every sentinel with a code survives the trip through a result.
	for c, e := range codeErrs {
		if got := (result{Code: c}).err("n"); !errors.Is(got, e) || codeOf(got) != c {
			t.Errorf("code %d: %v", c, got)
		}
	}
}
