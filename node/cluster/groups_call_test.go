package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

// spawnReplier starts a member on node i that answers GroupCalls with
// "<name>:<request>", or with an error, or by exiting.
func (c *groupTestCluster) spawnReplier(i int, name string, mode string) node.PID {
	c.t.Helper()
	pid, err := c.nodes[i].rt.Spawn(func(ctx context.Context, p *node.Process) error {
		for {
			m, err := p.Receive(ctx)
			if err != nil {
				return nil
			}
			call, ok := AsGroupCall(m)
			if !ok {
				continue
			}
			var req string
			if err := call.Decode(&req); err != nil {
				return err
			}
			switch mode {
			case "error":
				_ = ReplyGroupCall(ctx, p, call, nil, errors.New("no thanks"))
			case "exit":
				return errors.New("crashed")
			default:
				_ = ReplyGroupCall(ctx, p, call, name+":"+req, nil)
			}
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return pid
}

func TestGroupMultiCall(t *testing.T) {
	c := newGroupTestCluster(t, 2, 1, FastGroupConfig())
	join := func(i int, pid node.PID) {
		s, _ := c.nodes[i].e.scope(DefaultGroupScope)
		if err := s.JoinGroup("svc", pid, nil); err != nil {
			t.Fatal(err)
		}
	}
	a := c.spawnReplier(0, "a", "")
	b := c.spawnReplier(1, "b", "")
	bad := c.spawnReplier(1, "bad", "error")
	dies := c.spawnReplier(1, "dies", "exit")
	for _, p := range []struct {
		i   int
		pid node.PID
	}{{0, a}, {1, b}, {1, bad}, {1, dies}} {
		join(p.i, p.pid)
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	replies, err := s0.MultiCall(ctx, "svc", "ping")
	if err != nil {
		t.Fatal(err)
	}
	got := map[node.PID]string{}
	for _, r := range replies {
		var s string
		if err := r.Decode(&s); err != nil {
			got[r.PID] = "err: " + err.Error()
		} else {
			got[r.PID] = s
		}
	}
	var ce *GroupCallError
	if got[a] != "a:ping" || got[b] != "b:ping" || len(replies) != 4 {
		t.Fatalf("replies %v", got)
	}
	for _, r := range replies {
		switch r.PID {
		case bad:
			if !errors.As(r.Err, &ce) || ce.Message != "no thanks" {
				t.Fatalf("bad member: %v", r.Err)
			}
		case dies:
			if r.Err == nil || errors.Is(r.Err, context.DeadlineExceeded) {
				t.Fatalf("dying member: %v (want its exit, before the deadline)", r.Err)
			}
		}
	}
	if ctx.Err() != nil {
		t.Fatal("MultiCall waited out its deadline")
	}
}

func TestGroupSendToMemberStrategies(t *testing.T) {
	c := newGroupTestCluster(t, 2, 1, FastGroupConfig())
	var pids []node.PID
	chans := map[node.PID]chan node.Message{}
	for i := 0; i < 4; i++ {
		p, ch := c.spawn(i % 2)
		s, _ := c.nodes[i%2].e.scope(DefaultGroupScope)
		if err := s.JoinGroup("pool", p, nil); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
		chans[p] = ch
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	ctx := context.Background()

	rr := GroupRoundRobin()
	seen := map[node.PID]int{}
	for i := 0; i < 8; i++ {
		p, err := s0.SendToMember(ctx, "pool", rr, "", i)
		if err != nil {
			t.Fatal(err)
		}
		seen[p]++
	}
	for _, p := range pids {
		if seen[p] != 2 {
			t.Fatalf("round robin: %v", seen)
		}
	}
	h := GroupHash()
	first, _ := s0.SendToMember(ctx, "pool", h, "user-42", "x")
	for i := 0; i < 5; i++ {
		if p, _ := s0.SendToMember(ctx, "pool", h, "user-42", "x"); p != first {
			t.Fatalf("hash moved key: %s then %s", first, p)
		}
	}
	// Hashing is the same on every node that sees the same members.
	s1, _ := c.nodes[1].e.scope(DefaultGroupScope)
	if p, _ := s1.SendToMember(ctx, "pool", h, "user-42", "x"); p != first {
		t.Fatalf("hash differs across nodes: %s vs %s", first, p)
	}
	load := map[node.PID]int{pids[0]: 5, pids[1]: 1, pids[2]: 3, pids[3]: 9}
	if p, _ := s0.SendToMember(ctx, "pool", GroupLeastLoaded(func(p node.PID) int { return load[p] }), "", "x"); p != pids[1] {
		t.Fatalf("least loaded picked %s", p)
	}
	for i := 0; i < 20; i++ {
		if _, err := s0.SendToMember(ctx, "pool", GroupRandom(), "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	// The local pool strategies work on groups too.
	shared := GroupStrategyOf(node.NewRoundRobin(), c.nodes[0].rt)
	seenShared := map[node.PID]int{}
	for i := 0; i < 4; i++ {
		p, err := s0.SendToMember(ctx, "pool", shared, "", "x")
		if err != nil {
			t.Fatal(err)
		}
		seenShared[p]++
	}
	if len(seenShared) != 4 {
		t.Fatalf("node.RoundRobin over the group: %v", seenShared)
	}
	if p, _ := s0.SendToMember(ctx, "pool", GroupStrategyOf(node.LeastLoaded{}, c.nodes[0].rt), "", "x"); p.Node == "" {
		t.Fatal("node.LeastLoaded picked nothing")
	}
	if _, err := s0.SendToMember(ctx, "empty", rr, "", "x"); !errors.Is(err, ErrGroupNoMembers) {
		t.Fatalf("empty group: %v", err)
	}
	// Every message sent reached a member.
	total := 0
	for _, p := range pids {
		total += len(chans[p])
	}
	groupWait(t, 10*time.Second, "delivered", func() error {
		total = 0
		for _, p := range pids {
			total += len(chans[p])
		}
		if total != 8+6+1+1+20+4+1 {
			return fmt.Errorf("%d delivered", total)
		}
		return nil
	})
}
