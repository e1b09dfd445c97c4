package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/node"
)

func TestGroupJoinLeaveMultiplicityAndMeta(t *testing.T) {
	c := newGroupTestCluster(t, 1, 1, FastGroupConfig())
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	p := c.spawnIdle(0)
	q := c.spawnIdle(0)
	for _, err := range []error{s.JoinGroup("g", p, []byte("a")), s.JoinGroup("g", p, []byte("b")), s.JoinGroup("g", q, nil), s.JoinGroup("h", p, nil)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ms := s.GroupMembers("g")
	if len(ms) != 2 || ms[0].PID != p || ms[0].Count != 2 || string(ms[0].Meta) != "b" || ms[1].PID != q || ms[1].Count != 1 {
		t.Fatalf("members %+v", ms)
	}
	if n := s.GroupMemberCount("g"); n != 2 {
		t.Fatalf("count %d", n)
	}
	if err := s.UpdateGroupMeta("g", q, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if ms := s.GroupMembers("g"); string(ms[1].Meta) != "m" {
		t.Fatalf("meta not updated: %+v", ms)
	}
	if err := s.LeaveGroup("g", p); err != nil {
		t.Fatal(err)
	}
	if ms := s.GroupMembers("g"); len(ms) != 2 || ms[0].Count != 1 {
		t.Fatalf("after one leave of two joins: %+v", ms)
	}
	if err := s.LeaveGroup("g", p); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveGroup("g", p); !errors.Is(err, ErrGroupNotMember) {
		t.Fatalf("third leave: %v, want ErrGroupNotMember", err)
	}
	infos, more := s.ListGroups("", "", 0)
	if len(infos) != 2 || infos[0] != (GroupInfo{Name: "g", Members: 1, Local: 1}) || infos[1].Name != "h" || more {
		t.Fatalf("groups %+v %v", infos, more)
	}
	if infos, more := s.ListGroups("", "", 1); len(infos) != 1 || !more {
		t.Fatalf("limit 1: %+v %v", infos, more)
	}
	if infos, _ := s.ListGroups("", "g", 0); len(infos) != 1 || infos[0].Name != "h" {
		t.Fatalf("after g: %+v", infos)
	}
	if infos, _ := s.ListGroups("h", "", 0); len(infos) != 1 || infos[0].Name != "h" {
		t.Fatalf("prefix h: %+v", infos)
	}
	if es, _ := s.GroupMembersByPrefix("", 0); len(es) != 2 {
		t.Fatalf("by prefix: %+v", es)
	}
	if ms, more := s.GroupMembersLimit("g", 1); len(ms) != 1 || more {
		t.Fatalf("limit: %+v %v", ms, more)
	}
}

func TestGroupBadInput(t *testing.T) {
	c := newGroupTestCluster(t, 1, 1, FastGroupConfig())
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	p := c.spawnIdle(0)
	remote := node.PID{Node: "elsewhere", Incarnation: 9, Serial: 1}
	stale := node.PID{Node: p.Node, Incarnation: p.Incarnation + 1, Serial: p.Serial}
	dead := c.spawnIdle(0)
	if err := c.nodes[0].rt.Exit(dead, node.Killed); err != nil {
		t.Fatal(err)
	}
	groupWait(t, time.Second, "dead", func() error {
		if c.nodes[0].rt.Alive(dead) {
			return errors.New("alive")
		}
		return nil
	})
	cases := []struct {
		name  string
		group string
		pid   node.PID
		meta  []byte
		want  error
	}{
		{"remote pid", "g", remote, nil, ErrGroupNotLocal},
		{"old incarnation", "g", stale, nil, ErrGroupNotLocal},
		{"zero pid", "g", node.PID{}, nil, ErrGroupNotLocal},
		{"dead pid", "g", dead, nil, node.ErrNoProc},
		{"empty name", "", p, nil, ErrGroupNameEmpty},
		{"oversize name", strings.Repeat("x", MaxGroupNameLen+1), p, nil, ErrGroupNameTooLong},
		{"invalid utf-8", "\xff", p, nil, ErrGroupNameInvalid},
		{"oversize meta", "g", p, make([]byte, MaxGroupMetaLen+1), ErrGroupMetaTooLarge},
	}
	for _, tc := range cases {
		if err := s.JoinGroup(tc.group, tc.pid, tc.meta); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.LeaveGroup("g", remote); !errors.Is(err, ErrGroupNotLocal) {
		t.Errorf("leave remote: %v", err)
	}
	if got := groupViewOf(c.nodes[0].e); len(got) != 0 {
		t.Fatalf("bad input left members: %v", got)
	}
	if _, err := c.nodes[0].e.scope("nope"); !errors.Is(err, ErrGroupUnknownScope) {
		t.Fatalf("unknown scope: %v", err)
	}
	if err := (GroupConfig{Scopes: []string{""}}).Validate(); !errors.Is(err, ErrGroupNameEmpty) {
		t.Fatalf("empty scope name: %v", err)
	}
}

func TestGroupProcessExitAndMonitor(t *testing.T) {
	c := newGroupTestCluster(t, 2, 1, FastGroupConfig())
	s0, _ := c.nodes[0].e.scope(DefaultGroupScope)
	s1, _ := c.nodes[1].e.scope(DefaultGroupScope)
	ctx := context.Background()
	mon0, initial, err := s0.MonitorGroup(ctx, "g")
	if err != nil || len(initial) != 0 {
		t.Fatal(err, initial)
	}
	defer mon0.Close()
	mon1, err := s1.MonitorGroupPrefix(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer mon1.Close()
	p, _ := c.spawn(0)
	if err := s0.JoinGroup("g", p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*GroupMonitor{mon0, mon1} {
		ev := groupNextEvent(t, m)
		if ev.Kind != GroupJoined || ev.Member.PID != p || ev.Group != "g" || string(ev.Member.Meta) != "x" {
			t.Fatalf("join event %+v", ev)
		}
	}
	if err := c.nodes[0].rt.Send(ctx, p, "exit"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*GroupMonitor{mon0, mon1} {
		ev := groupNextEvent(t, m)
		if ev.Kind != GroupLeft || ev.Reason != GroupProcessExit || ev.ExitReason == nil || !strings.Contains(ev.ExitReason.Error(), "told to exit") {
			t.Fatalf("exit event %+v (%v)", ev, ev.ExitReason)
		}
	}
	groupWait(t, time.Second, "converged", c.converged)
	if ms := s1.GroupMembers("g"); len(ms) != 0 {
		t.Fatalf("remote view keeps a dead member: %+v", ms)
	}
}

func groupNextEvent(t *testing.T, m *GroupMonitor) GroupEvent {
	t.Helper()
	select {
	case ev, ok := <-m.Events():
		if !ok {
			t.Fatalf("monitor ended: %v", m.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return GroupEvent{}
}

func TestGroupMonitorOverflowAndEnd(t *testing.T) {
	cfg := FastGroupConfig()
	cfg.MonitorBuffer = 4
	c := newGroupTestCluster(t, 1, 1, cfg)
	s, _ := c.nodes[0].e.scope(DefaultGroupScope)
	ctx, cancel := context.WithCancel(context.Background())
	m, err := s.MonitorGroupPrefix(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	p := c.spawnIdle(0)
	for i := 0; i < 10; i++ {
		if err := s.JoinGroup("g", p, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateGroupMeta("g", p, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range m.Events() {
		n++
	}
	if n != 4 || !errors.Is(m.Err(), ErrGroupMonitorOverflow) {
		t.Fatalf("got %d events then %v; want 4 then overflow", n, m.Err())
	}
	m2, _ := s.MonitorGroupPrefix(ctx, "")
	cancel()
	for range m2.Events() {
	}
	if !errors.Is(m2.Err(), context.Canceled) {
		t.Fatalf("ended with %v", m2.Err())
	}
	s.mu.RLock()
	left := len(s.mons)
	s.mu.RUnlock()
	if left != 0 {
		t.Fatalf("%d monitors still registered", left)
	}
}
