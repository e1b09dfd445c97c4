package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/transport"
)

// fakeBackend is an in-memory backend with the node's semantics where the
// HTTP API can see them: processes with mailboxes, unique names with owner
// checks, names going when their process exits, a global table with
// indexes, fences and a watch history.
type fakeBackend struct {
	node transport.NodeID
	inc  uint64

	mu          sync.Mutex
	serial      uint64
	procs       map[transport.PID]*fakeProc
	local       map[string]transport.PID
	groups      map[string][]transport.PID
	global      map[string]registration
	index       uint64
	history     []nameEvent
	floor       uint64 // events at or below floor are compacted
	watchers    int
	remoteSends []transport.PID
	healthErr   error
	mailboxMax  int // 0: unbounded (boundMailboxes sets it)
	wg          sync.WaitGroup
}

var _ mailboxBounder = (*fakeBackend)(nil)

func (f *fakeBackend) boundMailboxes(n int) {
	f.mu.Lock()
	f.mailboxMax = n
	f.mu.Unlock()
}

var _ backend = (*fakeBackend)(nil)

type fakeProc struct {
	mb     *fakeMailbox
	cancel context.CancelFunc
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		node: "n1", inc: 7,
		procs:  make(map[transport.PID]*fakeProc),
		local:  make(map[string]transport.PID),
		groups: make(map[string][]transport.PID),
		global: make(map[string]registration),
	}
}

// close kills every process and waits for them.
func (f *fakeBackend) close() {
	f.mu.Lock()
	for _, p := range f.procs {
		p.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeBackend) Self() (transport.NodeID, uint64) { return f.node, f.inc }

func (f *fakeBackend) Spawn(fn func(ctx context.Context, mb mailbox) error) (transport.PID, error) {
	f.mu.Lock()
	f.serial++
	pid := transport.PID{Node: f.node, Incarnation: f.inc, Serial: f.serial}
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakeProc{mb: newFakeMailbox(), cancel: cancel}
	f.procs[pid] = p
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		reason := fn(ctx, p.mb)
		cancel()
		f.exited(pid, reason)
	}()
	return pid, nil
}

// exited removes a dead process and everything it owned.
func (f *fakeBackend) exited(pid transport.PID, reason error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.procs, pid)
	for k, p := range f.local {
		if p == pid {
			delete(f.local, k)
		}
	}
	for k := range f.groups {
		f.groups[k] = removePID(f.groups[k], pid)
	}
	for name, reg := range f.global {
		if reg.PID == pid {
			f.dropGlobal(name, "process_exit")
		}
	}
}

func removePID(s []transport.PID, pid transport.PID) []transport.PID {
	out := s[:0]
	for _, p := range s {
		if p != pid {
			out = append(out, p)
		}
	}
	return out
}

func (f *fakeBackend) Alive(pid transport.PID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[pid] != nil
}

func (f *fakeBackend) Send(ctx context.Context, to transport.PID, body json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if to.Node != f.node {
		f.remoteSends = append(f.remoteSends, to)
		return nil
	}
	p := f.procs[to]
	if p == nil {
		return fmt.Errorf("%w: %s", errNoProc, to)
	}
	if f.mailboxMax > 0 && p.mb.len() >= f.mailboxMax {
		return fmt.Errorf("%w: %s", errMailboxFull, to)
	}
	p.mb.push(inbound{Body: renderBody(body)})
	return nil
}

func (f *fakeBackend) liveLocal(pid transport.PID) error {
	if pid.Node != f.node || f.procs[pid] == nil {
		return fmt.Errorf("%w: %s is not a live process on this node", errNoProc, pid)
	}
	return nil
}

func (f *fakeBackend) RegisterLocal(key string, pid transport.PID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.liveLocal(pid); err != nil {
		return err
	}
	if owner, ok := f.local[key]; ok {
		return &nameTakenError{Name: key, Owner: registration{Name: key, PID: owner, Node: owner.Node}}
	}
	f.local[key] = pid
	return nil
}

func (f *fakeBackend) LookupLocal(key string) (transport.PID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pid, ok := f.local[key]
	if !ok {
		return transport.PID{}, fmt.Errorf("%w: local name %q", errNotFound, key)
	}
	return pid, nil
}

func (f *fakeBackend) UnregisterLocal(key string, pid transport.PID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	owner, ok := f.local[key]
	switch {
	case !ok:
		return fmt.Errorf("%w: local name %q", errNotFound, key)
	case owner != pid:
		return fmt.Errorf("%w: %q is owned by %s", errNotOwner, key, owner)
	}
	delete(f.local, key)
	return nil
}

func (f *fakeBackend) JoinGroup(key string, pid transport.PID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.liveLocal(pid); err != nil {
		return err
	}
	f.groups[key] = append(f.groups[key], pid)
	return nil
}

func (f *fakeBackend) GroupMembers(key string) []transport.PID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]transport.PID(nil), f.groups[key]...)
}

func (f *fakeBackend) LeaveGroup(key string, pid transport.PID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	before := len(f.groups[key])
	f.groups[key] = removePID(f.groups[key], pid)
	if len(f.groups[key]) == before {
		return fmt.Errorf("%w: %s is not in group %q", errNotFound, pid, key)
	}
	return nil
}

func (f *fakeBackend) SendGroup(ctx context.Context, key string, body json.RawMessage) (int, error) {
	members := f.GroupMembers(key)
	for _, pid := range members {
		if err := f.Send(ctx, pid, body); err != nil {
			return 0, err
		}
	}
	return len(members), nil
}

func (f *fakeBackend) RegisterGlobal(ctx context.Context, name string, pid transport.PID, meta json.RawMessage) (registration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.healthErr; err != nil {
		return registration{}, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if err := f.liveLocal(pid); err != nil {
		return registration{}, err
	}
	if cur, ok := f.global[name]; ok {
		return registration{}, &nameTakenError{Name: name, Owner: cur}
	}
	f.index++
	reg := registration{Name: name, PID: pid, Node: pid.Node, Meta: meta, Fence: f.index, Index: f.index}
	f.global[name] = reg
	f.publish(nameEvent{Type: "registered", Name: name, PID: pid, Node: pid.Node, Meta: meta, Fence: reg.Fence, Index: f.index})
	return reg, nil
}

// batch registers names for pid in one "log entry": one index for all.
func (f *fakeBackend) batch(pid transport.PID, names ...string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	for i, name := range names {
		reg := registration{Name: name, PID: pid, Node: pid.Node, Fence: f.index<<16 | uint64(i), Index: f.index}
		f.global[name] = reg
		f.publish(nameEvent{Type: "registered", Name: name, PID: pid, Node: pid.Node, Fence: reg.Fence, Index: f.index})
	}
	return f.index
}

func (f *fakeBackend) LookupGlobal(ctx context.Context, name string, consistent bool) (registration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if consistent && f.healthErr != nil {
		return registration{}, fmt.Errorf("%w: %w", errUnavailable, f.healthErr)
	}
	reg, ok := f.global[name]
	if !ok {
		return registration{}, fmt.Errorf("%w: global name %q", errNotFound, name)
	}
	return reg, nil
}

func (f *fakeBackend) UnregisterGlobal(ctx context.Context, name string, pid transport.PID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	reg, ok := f.global[name]
	switch {
	case !ok:
		return fmt.Errorf("%w: global name %q", errNotFound, name)
	case reg.PID != pid:
		return fmt.Errorf("%w: %q is owned by %s", errNotOwner, name, reg.PID)
	}
	f.dropGlobal(name, "unregister")
	return nil
}

// dropGlobal removes a name and records the event. Called with mu held.
func (f *fakeBackend) dropGlobal(name, reason string) {
	reg := f.global[name]
	delete(f.global, name)
	f.index++
	f.publish(nameEvent{Type: "unregistered", Name: name, PID: reg.PID, Node: reg.Node, Fence: reg.Fence, Index: f.index, Reason: reason})
}

func (f *fakeBackend) ListGlobal(ctx context.Context, prefix, after string, limit int, consistent bool) ([]registration, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registration
	for name, reg := range f.global {
		if strings.HasPrefix(name, prefix) && name > after {
			out = append(out, reg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) > limit {
		return out[:limit], out[limit-1].Name, nil
	}
	return out, "", nil
}

func (f *fakeBackend) SendGlobal(ctx context.Context, name string, body json.RawMessage) (registration, error) {
	reg, err := f.LookupGlobal(ctx, name, false)
	if err != nil {
		return registration{}, err
	}
	return reg, f.Send(ctx, reg.PID, body)
}

// publish appends to the history; watchers poll it. Called with mu held.
func (f *fakeBackend) publish(ev nameEvent) { f.history = append(f.history, ev) }

func (f *fakeBackend) WatchGlobal(ctx context.Context, prefix string, from uint64) (<-chan nameEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if from != 0 && from <= f.floor {
		return nil, fmt.Errorf("%w: index %d is not above %d", errCompacted, from, f.floor)
	}
	pos := len(f.history) // from now
	if from != 0 {
		pos = sort.Search(len(f.history), func(i int) bool { return f.history[i].Index >= from })
	}
	f.watchers++
	ch := make(chan nameEvent)
	f.wg.Add(1)
	go f.feed(ctx, prefix, pos, ch)
	return ch, nil
}

// feed delivers the history from position pos on to ch until ctx is done.
func (f *fakeBackend) feed(ctx context.Context, prefix string, pos int, ch chan<- nameEvent) {
	defer f.wg.Done()
	defer close(ch)
	defer func() { f.mu.Lock(); f.watchers--; f.mu.Unlock() }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		next := append([]nameEvent(nil), f.history[pos:]...)
		pos = len(f.history)
		f.mu.Unlock()
		for _, ev := range next {
			if !strings.HasPrefix(ev.Name, prefix) {
				continue
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (f *fakeBackend) watcherCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watchers
}

func (f *fakeBackend) setHealth(err error) {
	f.mu.Lock()
	f.healthErr = err
	f.mu.Unlock()
}

func (f *fakeBackend) Health() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.healthErr != nil {
		return fmt.Errorf("%w: %w", errUnavailable, f.healthErr)
	}
	return nil
}

func (f *fakeBackend) Status(ctx context.Context) (status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return status{
		Node: f.node, Incarnation: f.inc, Leader: f.node,
		Raft:    raftStatus{State: "Leader", Term: 2, LastIndex: f.index, AppliedIndex: f.index},
		Voters:  []transport.NodeID{f.node},
		Members: []member{{Node: f.node, Addr: "127.0.0.1:7946", State: "alive", Role: "voter", Incarnation: f.inc}},
	}, nil
}

func (f *fakeBackend) Stats() stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return stats{Processes: len(f.procs), GlobalNames: len(f.global), LocalNames: len(f.local)}
}

// fakeMailbox is an unbounded queue with a notify channel.
type fakeMailbox struct {
	mu     sync.Mutex
	q      []inbound
	notify chan struct{}
}

func newFakeMailbox() *fakeMailbox { return &fakeMailbox{notify: make(chan struct{}, 1)} }

func (m *fakeMailbox) push(in inbound) {
	m.mu.Lock()
	m.q = append(m.q, in)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *fakeMailbox) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.q)
}

func (m *fakeMailbox) TryReceive() (inbound, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.q) == 0 {
		return inbound{}, false
	}
	in := m.q[0]
	m.q = m.q[1:]
	return in, true
}

func (m *fakeMailbox) Receive(ctx context.Context) (inbound, error) {
	for {
		if in, ok := m.TryReceive(); ok {
			return in, nil
		}
		select {
		case <-m.notify:
		case <-ctx.Done():
			return inbound{}, ctx.Err()
		}
	}
}

// fakeClock is a manual clock: timers fire when Advance passes them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	when   time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) NewTimer(d time.Duration) clockTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1), when: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time on and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.when.After(c.now) {
			t.active = false
			select {
			case t.c <- c.now:
			default:
			}
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.when, t.active = t.clk.now.Add(d), true
	select { // drop a stale fire, like Go 1.23+ timers
	case <-t.c:
	default:
	}
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.active = false
	select {
	case <-t.c:
	default:
	}
}
