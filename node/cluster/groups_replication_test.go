package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

func TestGroupReplicationThreeNodes(t *testing.T) {
	c := newGroupTestCluster(t, 3, 1, FastGroupConfig())
	var pids []node.PID
	for i := range c.nodes {
		s, _ := c.nodes[i].e.scope(DefaultGroupScope)
		for j := 0; j < 5; j++ {
			p := c.spawnIdle(i)
			pids = append(pids, p)
			if err := s.JoinGroup("workers", p, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	for _, gn := range c.nodes {
		s, _ := gn.e.scope(DefaultGroupScope)
		if ms := s.GroupMembers("workers"); len(ms) != 15 {
			t.Fatalf("%s sees %d members", gn.id, len(ms))
		}
		if ms := s.LocalGroupMembers("workers"); len(ms) != 5 || ms[0].PID.Node != gn.id {
			t.Fatalf("%s local %+v", gn.id, ms)
		}
		st := s.Stats()
		if st.LocalMembers != 5 || st.RemoteMembers != 10 || st.Peers != 2 {
			t.Fatalf("%s stats %+v", gn.id, st)
		}
	}
	// Leaves and meta updates replicate too.
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	if err := s0.LeaveGroup("workers", pids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s0.UpdateGroupMeta("workers", pids[1], []byte("new")); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged after leave", c.converged)
}

func TestGroupScopesAreIndependent(t *testing.T) {
	cfg := FastGroupConfig()
	cfg.Scopes = []string{"other"}
	c := newGroupTestCluster(t, 2, 1, cfg)
	p := c.spawnIdle(0)
	a, _ := c.nodes[0].e.scope("other")
	if err := a.JoinGroup("g", p, nil); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	d1, _ := c.nodes[1].e.scope(DefaultGroupScope)
	o1, _ := c.nodes[1].e.scope("other")
	if len(d1.GroupMembers("g")) != 0 || len(o1.GroupMembers("g")) != 1 {
		t.Fatalf("default %v other %v", d1.GroupMembers("g"), o1.GroupMembers("g"))
	}
}

func TestGroupNodeDownAndLeftDropMembers(t *testing.T) {
	for _, why := range []GroupReason{GroupNodeDown, GroupNodeLeft} {
		t.Run(string(why), func(t *testing.T) {
			c := newGroupTestCluster(t, 3, 1, FastGroupConfig())
			s2, _ := c.nodes[2].e.scope(DefaultGroupScope)
			s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
			p := c.spawnIdle(2)
			if err := s2.JoinGroup("g", p, nil); err != nil {
				t.Fatal(err)
			}
			groupWait(t, 10*time.Second, "converged", c.converged)
			mon, initial, err := s0.MonitorGroup(context.Background(), "g")
			if err != nil || len(initial) != 1 {
				t.Fatal(err, initial)
			}
			defer mon.Close()
			gone := c.nodes[2]
			c.stop(2)
			for _, o := range c.live() {
				o.e.peerGone(gone.id, gone.inc, why)
			}
			ev := groupNextEvent(t, mon)
			if ev.Kind != GroupLeft || ev.Reason != why || ev.Member.PID != p {
				t.Fatalf("event %+v", ev)
			}
			if err := c.converged(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGroupPartitionHealConverges(t *testing.T) {
	c := newGroupTestCluster(t, 3, 1, FastGroupConfig())
	s := func(i int) *GroupScope { sc, _ := c.nodes[i].e.scope(DefaultGroupScope); return sc }
	a := c.spawnIdle(0)
	if err := s(0).JoinGroup("g", a, nil); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	c.net.Partition([]node.NodeID{"n1"}, []node.NodeID{"n2", "n3"})
	// Changes on both sides while cut off; membership declares nobody dead.
	if err := s(0).LeaveGroup("g", a); err != nil {
		t.Fatal(err)
	}
	b := c.spawnIdle(1)
	if err := s(1).JoinGroup("g", b, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the sends fail
	c.net.Heal()
	took := groupWait(t, 10*time.Second, "converged after heal", c.converged)
	t.Logf("converged %v after heal", took)
}

func TestGroupRestartNewIncarnation(t *testing.T) {
	c := newGroupTestCluster(t, 3, 1, FastGroupConfig())
	s2, _ := c.nodes[2].e.scope(DefaultGroupScope)
	old := c.spawnIdle(2)
	if err := s2.JoinGroup("g", old, nil); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	oldInc := c.nodes[2].inc
	// The node dies without membership noticing, and comes back with a new
	// incarnation: the peers learn it from membership's alive message.
	c.stop(2)
	c.restart(2)
	s2, _ = c.nodes[2].e.scope(DefaultGroupScope)
	fresh := c.spawnIdle(2)
	if err := s2.JoinGroup("g", fresh, nil); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged after restart", c.converged)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	for _, m := range s0.GroupMembers("g") {
		if m.PID.Incarnation == oldInc {
			t.Fatalf("ghost of incarnation %d: %v", oldInc, m)
		}
	}
	// A frame from the old incarnation is refused and changes nothing.
	body, _ := encodeGroupMsg(&groupSyncMsg{
		groupHeader: groupHeader{Scope: DefaultGroupScope, FromInc: oldInc, ToInc: c.nodes[0].inc, Seq: 1 << 40},
		Last:        true, Count: 1, Ops: []groupOp{{Group: "g", Serial: old.Serial, Count: 1}},
	})
	if _, err := c.nodes[0].e.handleRequest(context.Background(), "n3", groupMethodSync, body); !errors.Is(err, ErrGroupStaleIncarnation) {
		t.Fatalf("old incarnation's sync: %v", err)
	}
	if err := c.converged(); err != nil {
		t.Fatal(err)
	}
}

func TestGroupRefusesBadFrames(t *testing.T) {
	c := newGroupTestCluster(t, 2, 1, FastGroupConfig())
	s1, _ := c.nodes[1].e.scope(DefaultGroupScope)
	p := c.spawnIdle(1)
	if err := s1.JoinGroup("g", p, nil); err != nil {
		t.Fatal(err)
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	e := c.nodes[0].e
	before := groupViewOf(e)
	n2 := c.nodes[1]
	hdr := func(inc, to uint64) groupHeader {
		return groupHeader{Scope: DefaultGroupScope, FromInc: inc, ToInc: to, Seq: 1 << 50}
	}
	good := []groupOp{{Group: "evil", Serial: 7, Count: 1}}
	sync := func(h groupHeader, ops []groupOp) []byte {
		b, _ := encodeGroupMsg(&groupSyncMsg{groupHeader: h, Last: true, Count: len(ops), Ops: ops})
		return b
	}
	cases := []struct {
		name, from, method string
		body               []byte
		want               error
	}{
		{"unknown peer", "stranger", groupMethodSync, sync(hdr(5, e.inc), good), ErrGroupUnknownPeer},
		{"wrong incarnation", "n2", groupMethodSync, sync(hdr(n2.inc+1, e.inc), good), ErrGroupStaleIncarnation},
		{"meant for another incarnation of us", "n2", groupMethodSync, sync(hdr(n2.inc, e.inc+1), good), ErrGroupStaleIncarnation},
		{"unknown scope", "n2", groupMethodSync, sync(groupHeader{Scope: "nope", FromInc: n2.inc, ToInc: e.inc, Seq: 1 << 50}, good), ErrGroupUnknownScope},
		{"empty group name", "n2", groupMethodSync, sync(hdr(n2.inc, e.inc), []groupOp{{Group: "", Serial: 1, Count: 1}}), ErrGroupBadFrame},
		{"oversize meta", "n2", groupMethodSync, sync(hdr(n2.inc, e.inc), []groupOp{{Group: "g", Serial: 1, Count: 1, Meta: make([]byte, MaxGroupMetaLen+1)}}), ErrGroupBadFrame},
		{"zero serial", "n2", groupMethodSync, sync(hdr(n2.inc, e.inc), []groupOp{{Group: "g", Count: 1}}), ErrGroupBadFrame},
		{"garbage", "n2", groupMethodSync, []byte{0xc1, 0x00}, ErrGroupBadFrame},
		{"delta with a gap", "n2", groupMethodDelta, func() []byte {
			b, _ := encodeGroupMsg(&groupDeltaMsg{groupHeader: hdr(n2.inc, e.inc), Prev: 12345, Ops: good})
			return b
		}(), ErrGroupOutOfOrder},
		{"unknown method", "n2", "groups.nope", nil, ErrGroupBadFrame},
	}
	for _, tc := range cases {
		if _, err := e.handleRequest(context.Background(), node.NodeID(tc.from), tc.method, tc.body); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := groupViewOf(e); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("bad frames changed the view:\n%v\n%v", before, after)
	}
	// A sync over the member bound is refused.
	e.cfg.MaxMembersPerNode = 1
	two := []groupOp{{Group: "g", Serial: 1, Count: 1}, {Group: "g", Serial: 2, Count: 1}}
	if _, err := e.handleRequest(context.Background(), "n2", groupMethodSync, sync(hdr(n2.inc, e.inc), two)); !errors.Is(err, ErrGroupSyncTooLarge) {
		t.Fatalf("oversize sync: %v", err)
	}
	e.cfg.MaxMembersPerNode = DefaultGroupConfig().MaxMembersPerNode
	// The sender's heartbeat resyncs any view a refused frame disturbed.
	groupWait(t, 10*time.Second, "converged after bad frames", c.converged)
}

func TestGroupQueueOverflowBecomesResync(t *testing.T) {
	cfg := FastGroupConfig()
	cfg.PeerQueueMax = 8
	c := newGroupTestCluster(t, 2, 1, cfg)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	c.net.Partition([]node.NodeID{"n1"}, []node.NodeID{"n2"})
	p := c.spawnIdle(0)
	for i := 0; i < 100; i++ {
		if err := s0.JoinGroup(fmt.Sprint("g", i), p, nil); err != nil {
			t.Fatal(err)
		}
	}
	l := c.nodes[0].e.links["n2"]
	l.mu.Lock()
	queued := len(l.sc[0].ops)
	l.mu.Unlock()
	if queued > cfg.PeerQueueMax {
		t.Fatalf("%d changes queued, bound %d", queued, cfg.PeerQueueMax)
	}
	c.net.Heal()
	groupWait(t, 10*time.Second, "converged after overflow", c.converged)
}

func TestGroupPublish(t *testing.T) {
	c := newGroupTestCluster(t, 3, 1, FastGroupConfig())
	cc := c.nodes[0].calls
	var chans []chan node.Message
	for _, i := range []int{0, 1, 1} { // node n3 has no members
		p, ch := c.spawn(i)
		chans = append(chans, ch)
		s, _ := c.nodes[i].e.scope(DefaultGroupScope)
		if err := s.JoinGroup("g", p, nil); err != nil {
			t.Fatal(err)
		}
	}
	groupWait(t, 10*time.Second, "converged", c.converged)
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	type hello struct{ Word string }
	for _, gn := range c.nodes {
		if err := node.RegisterType[hello](gn.rt, "test.hello"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s0.Publish(context.Background(), "g", hello{"hi"})
	if err != nil || n != 3 {
		t.Fatalf("published to %d: %v", n, err)
	}
	for i, ch := range chans {
		select {
		case m := <-ch:
			// A registered type arrives as itself, on every node.
			if h, ok := m.Body.(hello); !ok || h.Word != "hi" {
				t.Fatalf("member %d got %#v", i, m.Body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("member %d got nothing", i)
		}
	}
	if cc.count(groupMethodPublish, "n3") != 0 || cc.count(groupMethodPublish, "n2") != 1 {
		t.Fatalf("publish frames: n2 %d (want 1), n3 %d (want 0)", cc.count(groupMethodPublish, "n2"), cc.count(groupMethodPublish, "n3"))
	}
	if n, err := s0.PublishLocal(context.Background(), "g", "local"); err != nil || n != 1 {
		t.Fatalf("publish local: %d %v", n, err)
	}
	if n, err := s0.Publish(context.Background(), "none", "x"); err != nil || n != 0 {
		t.Fatalf("publish to empty group: %d %v", n, err)
	}
	if _, err := s0.Publish(context.Background(), "", "x"); !errors.Is(err, ErrGroupNameEmpty) {
		t.Fatalf("publish to empty name: %v", err)
	}
}
