package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func inmemTrio(t *testing.T, seed int64) (*InmemNetwork, []testTransport, []*recorder) {
	n := NewInmemNetwork(seed)
	h := inmemHarness{net: n}
	ids := []NodeID{"n1", "n2", "n3"}
	trs := make([]testTransport, len(ids))
	recs := make([]*recorder, len(ids))
	for i, id := range ids {
		recs[i] = newRecorder()
		trs[i] = h.make(t, testConfig(t, id, uint64(i+1)), recs[i])
	}
	for i := range trs {
		for j := range trs {
			if i != j {
				trs[i].SetPeer(ids[j], trs[j].Addr(), 0)
			}
		}
	}
	return n, trs, recs
}

// TestInmemPartitionLooksLikeConnectionLoss: a partition fails pending
// calls and reports PeerDown on both sides; heal lets them reconnect.
func TestInmemPartitionLooksLikeConnectionLoss(t *testing.T) {
	n, trs, recs := inmemTrio(t, 7)
	ctx := context.Background()
	for _, to := range []NodeID{"n2", "n3"} {
		if _, err := trs[0].Call(ctx, to, "echo", nil); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := trs[0].Call(ctx, "n2", "block", nil)
		done <- err
	}()
	waitFor(t, 5*time.Second, func() error {
		if recs[1].blockedCount() != 1 {
			return errors.New("request not running")
		}
		return nil
	})
	n.Partition([]NodeID{"n1", "n3"}, []NodeID{"n2"})
	var pe *PeerError
	if err := <-done; !errors.As(err, &pe) || pe.Peer != "n2" {
		t.Fatalf("pending call across the partition: want *PeerError, got %v", err)
	}
	waitFor(t, 5*time.Second, func() error {
		if err := recs[0].hasEvent("down n2 2"); err != nil {
			return err
		}
		return recs[1].hasEvent("down n1 1")
	})
	if err := recs[0].hasEvent("down n3 3"); err == nil {
		t.Fatal("n3 is on n1's side and must stay up")
	}
	if _, err := trs[0].Call(ctx, "n2", "echo", nil); !errors.As(err, &pe) {
		t.Fatalf("call across partition: %v", err)
	}
	if _, err := trs[0].Call(ctx, "n3", "echo", nil); err != nil {
		t.Fatalf("same side: %v", err)
	}
	n.Heal()
	if _, err := trs[0].Call(ctx, "n2", "echo", nil); err != nil {
		t.Fatalf("after heal: %v", err)
	}
	waitFor(t, 5*time.Second, func() error {
		got := recs[0].eventList()
		if len(got) != 4 || got[3] != "up n2 2" {
			return fmt.Errorf("events %v", got)
		}
		return nil
	})
}

// TestInmemDropIsSeeded: the same seed drops the same messages.
func TestInmemDropIsSeeded(t *testing.T) {
	run := func() []uint64 {
		n, trs, recs := inmemTrio(t, 42)
		n.SetLinkFaults("n1", "n2", 0.5, 0)
		for i := 1; i <= 200; i++ {
			if err := trs[0].Send(context.Background(), "n2", &Envelope{Kind: KindMessage, Ref: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// A marker on an undisturbed path tells us delivery is done: the
		// link is FIFO, so clear the fault and send a last message.
		n.SetLinkFaults("n1", "n2", 0, 0)
		_ = trs[0].Send(context.Background(), "n2", &Envelope{Kind: KindMessage, Ref: 1000})
		var refs []uint64
		waitFor(t, 5*time.Second, func() error {
			envs := recs[1].envelopes()
			if len(envs) == 0 || envs[len(envs)-1].Ref != 1000 {
				return errors.New("marker not delivered")
			}
			refs = refs[:0]
			for _, e := range envs {
				refs = append(refs, e.Ref)
			}
			return nil
		})
		return refs
	}
	first, second := run(), run()
	if len(first) < 50 || len(first) > 150 {
		t.Fatalf("drop 0.5 delivered %d of 200", len(first)-1)
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("same seed, different drops:\n%v\n%v", first, second)
	}
	for i := 1; i < len(first); i++ {
		if first[i] <= first[i-1] {
			t.Fatalf("order broken: %v", first)
		}
	}
}

// TestInmemDelay: a delayed link delivers no sooner than its delay.
func TestInmemDelay(t *testing.T) {
	n, trs, _ := inmemTrio(t, 1)
	n.SetLinkFaults("n1", "n2", 0, 50*time.Millisecond)
	start := time.Now()
	if _, err := trs[0].Call(context.Background(), "n2", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("call over a 50ms link took %v", el)
	}
}

// TestInmemOrderAcrossPartitions: a numbered stream survives partitions
// and heals at random (seeded) points with order kept and no duplicates.
func TestInmemOrderAcrossPartitions(t *testing.T) {
	const seed = 99
	n, trs, recs := inmemTrio(t, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	const total = 20000
	for i := 1; i <= total; i++ {
		switch rng.IntN(500) {
		case 0:
			n.Partition([]NodeID{"n1"}, []NodeID{"n2", "n3"})
		case 1:
			n.Heal()
		}
		_ = trs[0].Send(context.Background(), "n2", &Envelope{Kind: KindMessage, Ref: uint64(i)})
	}
	n.Heal()
	waitFor(t, 10*time.Second, func() error {
		if err := trs[0].Send(context.Background(), "n2", &Envelope{Kind: KindMessage, Ref: total + 1}); err != nil {
			return err
		}
		envs := recs[1].envelopes()
		if len(envs) == 0 || envs[len(envs)-1].Ref != total+1 {
			return errors.New("marker not delivered yet")
		}
		return nil
	})
	var last uint64
	for _, e := range recs[1].envelopes() {
		if e.Ref == total+1 {
			continue
		}
		if e.Ref <= last {
			t.Fatalf("ref %d after %d", e.Ref, last)
		}
		last = e.Ref
	}
	if err := recs[1].hasEvent("down n1 1"); err != nil {
		t.Fatalf("partitions never cut the link: %v", err)
	}
}
