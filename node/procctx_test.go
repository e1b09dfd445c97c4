package node

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestProcessContext(t *testing.T) {
	n := newTestNode(t, "a", nil)
	type seen struct {
		own, derived, after error
		stopped             bool
	}
	out := make(chan seen, 1)
	ready := make(chan struct{})
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		if dl, ok := ctx.Deadline(); ok || !dl.IsZero() || ctx.Value("k") != nil || ctx.Err() != nil {
			t.Errorf("fresh process ctx: deadline %v %v, err %v", dl, ok, ctx.Err())
		}
		derived, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		fired := make(chan struct{})
		context.AfterFunc(ctx, func() { close(fired) })
		stop := context.AfterFunc(ctx, func() { t.Error("stopped AfterFunc ran") })
		stopped := stop()
		close(ready)
		<-derived.Done()
		<-fired
		out <- seen{own: ctx.Err(), derived: derived.Err(), after: context.Cause(ctx), stopped: stopped}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-ready
	if err := n.Exit(pid, Killed); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-out:
		if !errors.Is(s.own, context.Canceled) || !errors.Is(s.derived, context.Canceled) || !errors.Is(s.after, context.Canceled) || !s.stopped {
			t.Fatalf("%+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("derived context not cancelled by the kill")
	}

	// A context that is already cancelled: Done is closed, AfterFunc runs.
	var c procCtx
	c.cancel()
	c.cancel() // idempotent
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	ran := make(chan struct{})
	if c.AfterFunc(func() { close(ran) })() {
		t.Fatal("stop after cancel reported true")
	}
	<-ran
}
