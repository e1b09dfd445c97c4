package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roster-dev/roster/node"
)

// groupLink sends this node's membership changes (and Publish messages) to
// one peer incarnation, from one goroutine, one frame in flight at a time:
// changes queued meanwhile form the next batch. Bounds: at most
// GroupConfig.PeerQueueMax changes per scope (beyond that the queue is
// dropped and the peer gets a full sync instead) and
// GroupConfig.PublishQueueBytes of Publish bodies (Publish waits for room).
type groupLink struct {
	e    *groupEngine
	peer node.NodeID
	inc  uint64
	wake chan struct{}
	done chan struct{}
	ctx  context.Context
	end  context.CancelFunc
	once sync.Once

	mu       sync.Mutex
	sc       []groupLinkScope // by GroupScope.idx
	pubs     []groupPubItem
	pubBytes int
	room     chan struct{} // closed when queued publishes are taken
	stopped  bool
}

// groupLinkScope is a link's state for one scope.
type groupLinkScope struct {
	ops      []groupOp
	spare    []groupOp // the buffer of the frame in flight, reused after it
	gone     []groupOp // removals folded into the coming sync (their reasons)
	needSync bool
	since    time.Time // when needSync was set
	prev     uint64    // Seq of the last frame sent
	last     time.Time // when it was sent
}

func newGroupLink(e *groupEngine, peer node.NodeID, inc uint64) *groupLink {
	ctx, cancel := context.WithCancel(context.Background())
	l := &groupLink{
		e: e, peer: peer, inc: inc, wake: make(chan struct{}, 1), done: make(chan struct{}),
		ctx: ctx, end: cancel, sc: make([]groupLinkScope, len(e.list)),
	}
	now := time.Now()
	for i := range l.sc {
		l.sc[i].needSync, l.sc[i].since = true, now
	}
	l.kick()
	return l
}

// kick wakes the link's goroutine.
func (l *groupLink) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// stop ends the link: its goroutine returns, waiting publishers fail.
func (l *groupLink) stop() {
	l.once.Do(func() {
		l.mu.Lock()
		l.stopped = true
		l.pubs, l.pubBytes = nil, 0
		if l.room != nil {
			close(l.room)
			l.room = nil
		}
		l.mu.Unlock()
		l.end()
		close(l.done)
	})
}

// queue adds one change for the peer. Called with the scope's lock held.
func (l *groupLink) queue(idx int, op groupOp) {
	l.mu.Lock()
	ls := &l.sc[idx]
	switch {
	case ls.needSync: // the sync carries the state; keep a removal's reason
		if op.Count == 0 {
			ls.keepGone([]groupOp{op})
		}
	case len(ls.ops) >= l.e.cfg.PeerQueueMax:
		ls.toSync()
		ls.keepGone([]groupOp{op})
		l.e.stats.overflows.Add(1)
	default:
		ls.ops = append(ls.ops, op)
	}
	l.mu.Unlock()
	l.kick()
}

// markSync makes the next frame of scope idx a full sync.
func (l *groupLink) markSync(idx int) {
	l.mu.Lock()
	if ls := &l.sc[idx]; !ls.needSync {
		ls.toSync()
	}
	l.mu.Unlock()
	l.kick()
}

// groupGoneMax bounds the removals a link keeps for the reasons of its
// next sync.
const groupGoneMax = 4096

// toSync drops the queued changes for a full sync, keeping the removals
// (at most groupGoneMax, the latest) so the peer still learns why members
// went. Called with l.mu held.
func (ls *groupLinkScope) toSync() {
	ls.keepGone(ls.ops)
	ls.ops, ls.needSync, ls.since = nil, true, time.Now()
}

// keepGone adds the removals among ops to gone, keeping the latest
// groupGoneMax. Called with l.mu held.
func (ls *groupLinkScope) keepGone(ops []groupOp) {
	for _, op := range ops {
		if op.Count == 0 {
			ls.gone = append(ls.gone, op)
		}
	}
	if n := len(ls.gone); n > groupGoneMax {
		ls.gone = append(ls.gone[:0], ls.gone[n-groupGoneMax:]...)
	}
}

// run is the link's goroutine: it sends whatever is pending when woken,
// a heartbeat when idle, and backs off after a failure.
func (l *groupLink) run() {
	cfg := l.e.cfg
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	backoff := time.Duration(0)
	var last time.Time
	for {
		select {
		case <-l.done:
			return
		case <-l.wake:
		case <-beat.C:
		}
		if wait := cfg.Linger - time.Since(last); wait > 0 && !l.sleep(wait) {
			return
		}
		last = time.Now()
		if err := l.flush(); err != nil {
			if l.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, cfg.RetryMin), cfg.RetryMax)
			l.e.logger.Trace("group link send failed", "peer", l.peer, "retry_in", backoff, "error", err)
			if !l.sleep(backoff) {
				return
			}
			l.kick()
			continue
		}
		backoff = 0
	}
}

// sleep waits d, or returns false if the link stops first.
func (l *groupLink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.done:
		return false
	case <-t.C:
		return true
	}
}

// flush sends every scope's pending work, then queued publishes.
func (l *groupLink) flush() error {
	var errs []error
	for _, s := range l.e.list {
		if err := l.flushScope(s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.flushPublish(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// call sends one frame, bounded by CallTimeout and the link's life.
func (l *groupLink) call(method string, body []byte) error {
	ctx, cancel := context.WithTimeout(l.ctx, l.e.cfg.CallTimeout)
	defer cancel()
	_, err := l.e.tr.Call(ctx, l.peer, method, body)
	return err
}

// flushScope sends scope s's pending sync or deltas, or a heartbeat.
func (l *groupLink) flushScope(s *GroupScope) error {
	for {
		s.mu.RLock()
		l.mu.Lock()
		ls := &l.sc[s.idx]
		if ls.needSync {
			ops := s.localOps()
			d := s.local
			v := s.views[l.peer]
			ask := v == nil || v.seq == 0
			seq := l.e.seq.Add(1)
			since, gone := ls.since, ls.gone
			ls.needSync, ls.ops, ls.gone, ls.prev, ls.last = false, nil, nil, seq, time.Now()
			l.mu.Unlock()
			s.mu.RUnlock()
			if err := l.sendSync(s, seq, ops, gone, d, ask); err != nil {
				l.mu.Lock()
				later := ls.gone
				ls.gone = gone
				ls.keepGone(later)
				l.mu.Unlock()
				l.markSync(s.idx)
				return err
			}
			l.e.recordLag(time.Since(since))
			continue
		}
		if len(ls.ops) == 0 && time.Since(ls.last) < l.e.cfg.Heartbeat*3/4 {
			l.mu.Unlock()
			s.mu.RUnlock()
			return nil
		}
		n := min(len(ls.ops), l.e.cfg.BatchMax)
		msg := groupDeltaMsg{Prev: ls.prev, Ops: ls.ops[:n:n]}
		whole := n == len(ls.ops)
		if whole {
			ls.ops, ls.spare = ls.spare[:0], nil
			msg.HasDigest, msg.Count, msg.Hash = true, s.local.count, s.local.hash
		} else {
			ls.ops = ls.ops[n:]
		}
		msg.groupHeader = groupHeader{Scope: s.name, FromInc: l.e.inc, ToInc: l.inc, Seq: l.e.seq.Add(1)}
		ls.prev, ls.last = msg.Seq, time.Now()
		more := len(ls.ops) > 0
		l.mu.Unlock()
		s.mu.RUnlock()
		body, err := encodeGroupMsg(&msg)
		if err == nil {
			l.e.stats.deltaBytesOut.Add(uint64(len(body)))
			err = l.call(groupMethodDelta, body)
		}
		l.mu.Lock()
		if err != nil {
			// The frame may not have arrived: resync, keeping its removals'
			// reasons.
			if !ls.needSync {
				ls.toSync()
			}
			ls.keepGone(msg.Ops)
		}
		if whole && cap(msg.Ops) <= 4*l.e.cfg.BatchMax {
			clear(msg.Ops) // drop meta references
			ls.spare = msg.Ops[:0]
		}
		l.mu.Unlock()
		if err != nil {
			l.kick()
			return err
		}
		if !more {
			return nil
		}
	}
}

// groupSyncChunk is the most op bytes (estimated) one sync frame carries,
// well under the transport's 4 MiB frame limit.
const groupSyncChunk = 1 << 20

// sendSync sends ops as a full sync in chunks.
func (l *groupLink) sendSync(s *GroupScope, seq uint64, ops, gone []groupOp, d groupDigest, ask bool) error {
	msg := groupSyncMsg{
		groupHeader: groupHeader{Scope: s.name, FromInc: l.e.inc, ToInc: l.inc, Seq: seq},
		Ask:         ask, Count: d.count, Hash: d.hash,
	}
	for start := 0; ; msg.Part++ {
		end, size := start, 0
		for end < len(ops) && (end == start || size < groupSyncChunk) {
			size += len(ops[end].Group) + len(ops[end].Meta) + 24
			end++
		}
		msg.Ops, msg.Last = ops[start:end], end == len(ops)
		if msg.Last {
			msg.Gone = gone
		}
		body, err := encodeGroupMsg(&msg)
		if err != nil {
			return err
		}
		l.e.stats.syncBytesOut.Add(uint64(len(body)))
		if err := l.call(groupMethodSync, body); err != nil {
			return err
		}
		if msg.Last {
			l.e.stats.syncsOut.Add(1)
			return nil
		}
		start = end
	}
}

// localOps lists this node's memberships of scope s. Called with s.mu held.
func (s *GroupScope) localOps() []groupOp {
	ops := make([]groupOp, 0, s.local.count)
	for name, g := range s.groups {
		ns := g.nodes[s.e.self]
		if ns == nil {
			continue
		}
		for serial, r := range ns.members {
			ops = append(ops, groupOp{Group: name, Serial: serial, Count: r.count, Meta: r.meta})
		}
	}
	return ops
}
