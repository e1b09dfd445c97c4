package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/roster-dev/roster/local"
)

func TestNamesSendAndVanish(t *testing.T) {
	n := newTestNode(t, "a", nil)
	ctx := context.Background()
	pr := spawnProbe(t, n, WithName("worker"))
	if pid, ok := n.Whereis("worker"); !ok || pid != pr.pid {
		t.Fatalf("Whereis = %s %v", pid, ok)
	}
	if err := n.Send(ctx, Name("worker"), "hi"); err != nil {
		t.Fatal(err)
	}
	if m := pr.next(t); m.Body != "hi" {
		t.Fatalf("got %v", m.Body)
	}
	if err := n.Send(ctx, RemoteName{Node: "a", Name: "worker"}, "again"); err != nil {
		t.Fatal(err)
	}
	if m := pr.next(t); m.Body != "again" {
		t.Fatalf("got %v", m.Body)
	}

	// Taken name: Spawn fails and the process never runs.
	ran := make(chan struct{}, 1)
	_, err := n.Spawn(func(context.Context, *Process) error { ran <- struct{}{}; return nil }, WithName("worker"))
	var are *local.AlreadyRegisteredError[PID]
	if !errors.As(err, &are) || are.Owner != pr.pid || !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("spawn with taken name: %v", err)
	}
	if len(ran) != 0 {
		t.Fatal("process with a taken name ran")
	}
	// With a link as well: the failed spawn does not signal the linked process.
	linkedTo := spawnProbe(t, n, WithTrapExit())
	if _, err := n.Spawn(func(context.Context, *Process) error { return nil }, WithName("worker"), WithLink(linkedTo.pid)); !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("spawn with taken name and link: %v", err)
	}
	linkedTo.none(t)
	if got := linkedTo.p.Links(); len(got) != 0 {
		t.Fatalf("links left: %v", got)
	}
	if err := n.Register("worker", spawnWaiter(t, n)); !errors.Is(err, local.ErrAlreadyRegistered) {
		t.Fatalf("Register taken: %v", err)
	}

	// Exit removes the name.
	watch := spawnProbe(t, n)
	if _, err := watch.p.Monitor(Name("worker")); err != nil {
		t.Fatal(err)
	}
	if err := n.Exit(pr.pid, Killed); err != nil {
		t.Fatal(err)
	}
	watch.down(t)
	if _, ok := n.Whereis("worker"); ok {
		t.Fatal("name survived its process")
	}
	if err := n.Send(ctx, Name("worker"), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("send to vanished name: %v", err)
	}
	// Like Erlang's monitor(process, Name): an unregistered name gives an
	// immediate Down with NoProc (Process.Monitor's doc), not an error.
	if _, err := watch.p.Monitor(Name("worker")); err != nil {
		t.Fatalf("monitor vanished name: %v", err)
	}
	if d := watch.down(t); !errors.Is(d.Reason, NoProc) {
		t.Fatalf("monitor vanished name: Down %+v, want NoProc", d)
	}
	if err := n.Register("ghost", pr.pid); !errors.Is(err, local.ErrNoProc) {
		t.Fatalf("register dead pid: %v", err)
	}
	if err := n.Register("remote", PID{Node: "b", Incarnation: 1, Serial: 1}); !errors.Is(err, local.ErrNoProc) {
		t.Fatalf("register remote pid: %v", err)
	}
}

func TestRegisterUnregister(t *testing.T) {
	n := newTestNode(t, "a", nil)
	a, b := spawnWaiter(t, n), spawnWaiter(t, n)
	if err := n.Register("x", a); err != nil {
		t.Fatal(err)
	}
	if err := n.Unregister("x", b); !errors.Is(err, local.ErrNotOwner) {
		t.Fatalf("unregister by non-owner: %v", err)
	}
	if err := n.Unregister("x", a); err != nil {
		t.Fatal(err)
	}
	if err := n.Unregister("x", a); !errors.Is(err, local.ErrNotFound) {
		t.Fatalf("unregister twice: %v", err)
	}
	if err := n.Register("", a); !errors.Is(err, local.ErrKeyEmpty) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestGroupsAndCustomRegistry(t *testing.T) {
	n := newTestNode(t, "a", nil)
	var mu sync.Mutex
	var events []local.Event[PID]
	r, err := n.NewRegistry(local.Config[PID]{Name: "custom", Keys: local.DuplicateByKey,
		Listeners: []local.Listener[PID]{func(e local.Event[PID]) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}}})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	pid := spawnWaiter(t, n)
	if err := r.Register("k", pid, 1); err != nil {
		t.Fatal(err)
	}
	if err := n.Groups().Register("pool", pid, nil); err != nil {
		t.Fatal(err)
	}
	_ = n.Send(context.Background(), pid, boom)
	waitFor(t, "entries gone with the exit reason", func() error {
		if r.Count() != 0 || n.Groups().Count() != 0 {
			return errors.New("entries left")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(events) != 2 {
			return fmt.Errorf("%d events", len(events))
		}
		if last := events[1]; last.Reason != local.ReasonProcessExit || last.ExitReason != boom {
			return fmt.Errorf("last event %+v, want owner exit with boom", last)
		}
		return nil
	})
	if _, err := n.NewRegistry(local.Config[PID]{Partitions: -1}); err == nil {
		t.Fatal("bad registry config accepted")
	}
}
