package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

func TestWaitHealthyAndGlobalCall(t *testing.T) {
	lone := newClusterNode(t, "lone", t.TempDir(), 2, nil) // waits for a second server forever
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := lone.WaitHealthy(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait healthy without quorum: %v", err)
	}

	n := newClusterNode(t, "solo", t.TempDir(), 1, nil)
	ctx, cancel2 := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel2()
	if err := n.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := n.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if m.IsCall() {
				_ = p.Reply(ctx, m.ReplyTo(), "pong")
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := n.RegisterGlobal(ctx, "svc/ping", srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []node.Dest{node.Global("svc/ping"), node.GlobalFenced{Name: "svc/ping", Fence: reg.Fence}} {
		got, err := node.CallAs[string](ctx, n, to, "ping")
		if err != nil || got != "pong" {
			t.Fatalf("call %v: %q %v", to, got, err)
		}
	}
	if _, err := n.Call(ctx, node.GlobalFenced{Name: "svc/ping", Fence: reg.Fence + 1000}, "ping"); !errors.Is(err, node.ErrStaleFence) {
		t.Fatalf("stale fence: %v", err)
	}
	if _, err := n.Call(ctx, node.Global("svc/none"), "ping"); !errors.Is(err, node.NoProc) || !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("missing global: %v", err)
	}
}

func TestSupervisedGlobalName(t *testing.T) {
	n := newClusterNode(t, "solo", t.TempDir(), 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	spec := node.DefaultSupervisorSpec()
	spec.Global = n
	spec.Children = []node.ChildSpec{{ID: "svc", Global: "svc/supervised", Start: func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			if m.Body == "crash" {
				return errors.New("crashed")
			}
			if m.IsCall() {
				_ = p.Reply(ctx, m.ReplyTo(), p.PID().String())
			}
		}
	}}}
	sup, err := n.StartSupervisor(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	first, err := node.CallAs[string](ctx, n, node.Global("svc/supervised"), "who")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(ctx, node.Global("svc/supervised"), "crash"); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 15*time.Second, func() error {
		got, err := node.CallAs[string](ctx, n, node.Global("svc/supervised"), "who")
		if err != nil {
			return err
		}
		if got == first {
			return errors.New("still the first owner")
		}
		return nil
	})
	if _, err := sup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
