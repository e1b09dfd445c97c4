package cluster

import (
	"context"
	"sync"
)

// GroupEventKind says what happened to a member.
type GroupEventKind uint8

// Event kinds.
const (
	GroupJoined  GroupEventKind = 1 // a process became a member
	GroupLeft    GroupEventKind = 2 // a member went; Reason says why
	GroupUpdated GroupEventKind = 3 // a member's meta or join count changed
)

// String returns "join", "leave" or "update".
func (k GroupEventKind) String() string {
	switch k {
	case GroupJoined:
		return "join"
	case GroupLeft:
		return "leave"
	case GroupUpdated:
		return "update"
	}
	return "unknown"
}

// GroupEvent is one change seen by a GroupMonitor.
type GroupEvent struct {
	Kind   GroupEventKind
	Scope  string
	Group  string
	Member GroupMember // for GroupLeft, the member as it was
	// Reason is set for GroupLeft.
	Reason GroupReason
	// ExitReason is the process's exit reason when Reason is
	// GroupProcessExit (node.Normal, node.Killed, an error, or a
	// *node.RemoteError for a remote member).
	ExitReason error
}

// GroupMonitor delivers the events of one group, or of every group with a
// prefix, as this node sees them. Its channel holds GroupConfig.MonitorBuffer
// events; a consumer that falls further behind is cut off (Err returns
// ErrGroupMonitorOverflow) rather than letting the buffer grow.
type GroupMonitor struct {
	s      *GroupScope
	group  string
	prefix bool
	ch     chan GroupEvent

	mu     sync.Mutex
	err    error
	closed bool
	stop   func() bool // unregisters the ctx callback
}

// MonitorGroup starts monitoring group and returns the monitor with the
// group's members at that instant (events after it follow on the channel).
// The monitor ends when ctx is done, Close is called or the consumer falls
// behind; its channel is then closed.
func (s *GroupScope) MonitorGroup(ctx context.Context, group string) (*GroupMonitor, []GroupMember, error) {
	if err := ValidateGroupName(group); err != nil {
		return nil, nil, err
	}
	return s.monitor(ctx, group, false)
}

// MonitorGroupPrefix starts monitoring every group whose name starts with
// prefix ("" for all). See MonitorGroup.
func (s *GroupScope) MonitorGroupPrefix(ctx context.Context, prefix string) (*GroupMonitor, error) {
	if len(prefix) > MaxGroupNameLen {
		return nil, ErrGroupNameTooLong
	}
	m, _, err := s.monitor(ctx, prefix, true)
	return m, err
}

func (s *GroupScope) monitor(ctx context.Context, group string, prefix bool) (*GroupMonitor, []GroupMember, error) {
	m := &GroupMonitor{s: s, group: group, prefix: prefix, ch: make(chan GroupEvent, s.e.cfg.MonitorBuffer)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrGroupClosed
	}
	s.mons[m] = struct{}{}
	var initial []GroupMember
	if !prefix {
		if g := s.groups[group]; g != nil {
			initial = g.members()
		}
	}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { m.end(ctx.Err()) })
	m.mu.Lock()
	if m.closed {
		stop()
	} else {
		m.stop = stop
	}
	m.mu.Unlock()
	return m, initial, nil
}

// Events returns the event channel; it is closed when the monitor ends.
func (m *GroupMonitor) Events() <-chan GroupEvent { return m.ch }

// Err returns why the monitor ended: nil (Close, or still running), ctx's
// error, ErrGroupMonitorOverflow or ErrGroupClosed.
func (m *GroupMonitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Close ends the monitor. Idempotent.
func (m *GroupMonitor) Close() { m.end(nil) }

// end unregisters the monitor and closes its channel.
func (m *GroupMonitor) end(err error) {
	m.s.mu.Lock()
	delete(m.s.mons, m)
	m.s.mu.Unlock()
	m.close(err)
}

// close closes the channel once, recording err.
func (m *GroupMonitor) close(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed, m.err = true, err
	close(m.ch)
	if m.stop != nil {
		m.stop()
	}
}

func (m *GroupMonitor) matches(group string) bool {
	if m.prefix {
		return groupHasPrefix(group, m.group)
	}
	return group == m.group
}

// offer queues ev without blocking; a full buffer ends the monitor (and
// offer returns false so the scope drops it). Called with the scope's lock
// held.
func (m *GroupMonitor) offer(ev GroupEvent) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	select {
	case m.ch <- ev:
		m.mu.Unlock()
		return true
	default:
	}
	m.mu.Unlock()
	m.close(ErrGroupMonitorOverflow)
	return false
}
