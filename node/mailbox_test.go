package node

import (
	"context"
	"errors"
	"testing"
	"time"
)

// collect spawns a process that waits for a "go" message (selectively, so
// everything else stays queued), then returns the queued messages on ch.
func TestSelectiveReceiveKeepsOrder(t *testing.T) {
	n := newTestNode(t, "a", nil)
	out := make(chan []any, 1)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		if _, err := p.ReceiveMatch(ctx, func(m Message) bool { return m.Body == "go" }); err != nil {
			return err
		}
		// Pick the ints first, in order, then the rest.
		var got []any
		for len(got) < 3 {
			m, err := p.ReceiveMatch(ctx, func(m Message) bool { _, ok := m.Body.(int); return ok })
			if err != nil {
				return err
			}
			got = append(got, m.Body)
		}
		for p.Len() > 0 {
			m, err := p.Receive(ctx)
			if err != nil {
				return err
			}
			got = append(got, m.Body)
		}
		out <- got
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, v := range []any{"a", 1, "b", 2, "c", "go", 3} {
		if err := n.Send(ctx, pid, v); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-out:
		want := []any{1, 2, 3, "a", "b", "c"}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timeout")
	}
}

func TestReceiveTimeoutAndExit(t *testing.T) {
	n := newTestNode(t, "a", nil)
	errs := make(chan error, 2)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		_, err := p.Receive(tctx)
		cancel()
		errs <- err
		_, err = p.Receive(context.Background()) // ends when killed
		errs <- err
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout receive: %v", err)
	}
	if err := n.Exit(pid, Killed); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, ErrExited) {
		t.Fatalf("receive after kill: %v", err)
	}
}

func TestBoundedMailbox(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := context.Background()
	t.Run("drop newest", func(t *testing.T) {
		pr := spawnWaiterNoRecv(t, n, WithMailbox(MailboxConfig{Limit: 2, Policy: DropNewest}))
		for i := 0; i < 2; i++ {
			if err := n.Send(ctx, pr.pid, i); err != nil {
				t.Fatal(err)
			}
		}
		before := n.Stats().Dropped
		if err := n.Send(ctx, pr.pid, 2); !errors.Is(err, ErrMailboxFull) {
			t.Fatalf("third send: %v", err)
		}
		if n.Stats().Dropped != before+1 {
			t.Fatal("drop not counted")
		}
		assertQueue(t, pr.p, 0, 1)
	})
	t.Run("drop oldest", func(t *testing.T) {
		pr := spawnWaiterNoRecv(t, n, WithMailbox(MailboxConfig{Limit: 2, Policy: DropOldest}))
		for i := 0; i < 4; i++ {
			if err := n.Send(ctx, pr.pid, i); err != nil {
				t.Fatal(err)
			}
		}
		assertQueue(t, pr.p, 2, 3)
	})
	t.Run("default from config", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.NodeID = "b"
		cfg.DefaultMailbox = MailboxConfig{Limit: 1}
		n2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n2.Shutdown(ctx)
		pr := spawnWaiterNoRecv(t, n2)
		_ = n2.Send(ctx, pr.pid, 1)
		if err := n2.Send(ctx, pr.pid, 2); !errors.Is(err, ErrMailboxFull) {
			t.Fatalf("second send: %v", err)
		}
	})
}

// idle is a process that does not receive until told to via its channel.
type idle struct {
	pid PID
	p   *Process
}

func spawnWaiterNoRecv(t *testing.T, n *Node, opts ...SpawnOption) idle {
	t.Helper()
	ready := make(chan *Process, 1)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		ready <- p
		<-ctx.Done()
		return nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return idle{pid: pid, p: <-ready}
}

// assertQueue drains p's mailbox from the test goroutine (p itself does
// not receive) and compares.
func assertQueue(t *testing.T, p *Process, want ...int) {
	t.Helper()
	if p.Len() != len(want) {
		t.Fatalf("mailbox has %d, want %d", p.Len(), len(want))
	}
	for _, w := range want {
		m := recv(t, p)
		if m.Body != w {
			t.Fatalf("got %v, want %v", m.Body, w)
		}
	}
}

func TestMailboxUnboundedGrowsAndCompacts(t *testing.T) {
	var mb mailbox
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		for i := 0; i < 5000; i++ {
			if ok, _, _ := mb.push(Message{Body: i}); !ok {
				t.Fatal("push failed")
			}
		}
		for i := 0; i < 5000; i++ {
			m, err := mb.receive(ctx, nil)
			if err != nil || m.Body != i {
				t.Fatalf("round %d: got %v %v, want %d", round, m.Body, err, i)
			}
		}
	}
	if mb.len() != 0 {
		t.Fatalf("len %d", mb.len())
	}
	if n := mb.close(); n != 0 {
		t.Fatalf("close dropped %d", n)
	}
	if ok, _, _ := mb.push(Message{}); ok {
		t.Fatal("push to closed mailbox succeeded")
	}
}

func TestPanickingMatchDoesNotWedgeMailbox(t *testing.T) {
	n := newTestNode(t, "a", nil)
	pr := spawnProbe(t, n)
	pid, err := n.Spawn(func(ctx context.Context, p *Process) error {
		_, err := p.ReceiveMatch(ctx, func(Message) bool { panic("bad matcher") })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.p.Monitor(pid); err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), pid, 1); err != nil {
		t.Fatal(err)
	}
	var pe *PanicError
	if d := pr.down(t); !errors.As(d.Reason, &pe) {
		t.Fatalf("down %v, want panic", d.Reason)
	}
}
