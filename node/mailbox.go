package node

import (
	"context"
	"fmt"
	"sync"
)

// OverflowPolicy says what a bounded mailbox does when it is full.
type OverflowPolicy uint8

const (
	// DropNewest rejects the incoming message. A local sender gets
	// ErrMailboxFull; a message from another node is dropped and counted in
	// Stats.Dropped (the remote sender cannot be told synchronously).
	DropNewest OverflowPolicy = iota
	// DropOldest discards the oldest queued message to make room; the send
	// succeeds and the discarded message is counted in Stats.Dropped.
	DropOldest
)

// String returns the policy's name.
func (p OverflowPolicy) String() string {
	switch p {
	case DropNewest:
		return "drop_newest"
	case DropOldest:
		return "drop_oldest"
	}
	return fmt.Sprintf("OverflowPolicy(%d)", uint8(p))
}

// MailboxConfig bounds a process mailbox.
type MailboxConfig struct {
	// Limit is the most messages the mailbox holds. 0 (the default) means
	// unbounded, like Erlang: a slow receiver grows memory rather than
	// losing messages or blocking senders.
	Limit int
	// Policy applies when a bounded mailbox is full. Default DropNewest.
	Policy OverflowPolicy
}

// Validate checks the limit and policy.
func (c MailboxConfig) Validate() error {
	if c.Limit < 0 {
		return fmt.Errorf("%w: mailbox limit %d < 0", ErrBadConfig, c.Limit)
	}
	if c.Policy > DropOldest {
		return fmt.Errorf("%w: unknown overflow policy %d", ErrBadConfig, c.Policy)
	}
	return nil
}

// mailbox is an unbounded (or bounded) FIFO with selective receive: a
// mutex, a slice with a head index, and a notify channel of capacity one
// (made when the receiver first waits). It has a single receiver (the
// process) and any number of senders. A sender signals only when the
// receiver is waiting, so sends to a busy process cost a lock and an append.
type mailbox struct {
	limit  int
	policy OverflowPolicy

	mu      sync.Mutex
	notify  chan struct{}
	q       []Message
	head    int    // q[head:] are queued
	dropped uint64 // messages dropped from the head (DropOldest); lets a scan resume
	closed  bool
	waiting bool // the receiver is (about to be) blocked on notify
}

// init sets the bounds of an empty mailbox.
func (mb *mailbox) init(cfg MailboxConfig) {
	mb.limit, mb.policy = cfg.Limit, cfg.Policy
}

// push appends m. It returns (delivered, droppedOne); delivered is false
// when the mailbox is closed (errNoProc) or full under DropNewest.
func (mb *mailbox) push(m Message) (ok bool, full bool, droppedOld bool) {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return false, false, false
	}
	if mb.limit > 0 && len(mb.q)-mb.head >= mb.limit {
		if mb.policy == DropNewest {
			mb.mu.Unlock()
			return false, true, false
		}
		mb.popHead()
		mb.dropped++
		droppedOld = true
	}
	mb.q = append(mb.q, m)
	var wake chan struct{}
	if mb.waiting {
		wake = mb.notify
		mb.waiting = false
	}
	mb.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	return true, false, droppedOld
}

// popHead removes q[head]. Caller holds mu.
func (mb *mailbox) popHead() {
	mb.q[mb.head] = Message{}
	mb.head++
	if mb.head == len(mb.q) {
		mb.q = mb.q[:0]
		mb.head = 0
	} else if mb.head >= 1024 && mb.head*2 >= len(mb.q) {
		n := copy(mb.q, mb.q[mb.head:])
		clear(mb.q[n:])
		mb.q = mb.q[:n]
		mb.head = 0
	}
}

// removeAt removes q[i] keeping the order of the rest. Caller holds mu.
func (mb *mailbox) removeAt(i int) {
	if i == mb.head {
		mb.popHead()
		return
	}
	copy(mb.q[i:], mb.q[i+1:])
	mb.q[len(mb.q)-1] = Message{}
	mb.q = mb.q[:len(mb.q)-1]
}

// receive returns the first queued message for which match returns true
// (any message when match is nil), waiting until one arrives, ctx is done or
// the mailbox closes. Messages that do not match stay queued in order.
// Each message is offered to match once per call; match runs with the
// mailbox locked, so it must be quick and must not use the process.
func (mb *mailbox) receive(ctx context.Context, match func(Message) bool) (Message, error) {
	var sc scan
	done := ctx.Done()
	for {
		m, notify, err := mb.take(match, &sc)
		if notify == nil || err != nil {
			return m, err
		}
		if done == nil { // a plain receive is cheaper than a select
			<-notify
			continue
		}
		select {
		case <-notify:
		case <-ctx.Done():
			mb.mu.Lock()
			mb.waiting = false
			mb.mu.Unlock()
			return Message{}, ctx.Err()
		}
	}
}

// scan is the progress of one receive call through the queue.
type scan struct {
	done      int    // q[head:head+done] were offered and did not match
	droppedAt uint64 // mb.dropped when done was last adjusted
}

// take removes and returns the first matching message not yet offered. If
// there is none it marks the receiver waiting and returns the channel to
// wait on (or returns ErrExited when closed). A panicking match leaves the
// mailbox unlocked.
func (mb *mailbox) take(match func(Message) bool, sc *scan) (Message, chan struct{}, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if d := int(mb.dropped - sc.droppedAt); d > 0 {
		sc.done = max(0, sc.done-d)
	}
	sc.droppedAt = mb.dropped
	for i := mb.head + sc.done; i < len(mb.q); i++ {
		m := mb.q[i]
		if match == nil || match(m) {
			mb.removeAt(i)
			return m, nil, nil
		}
		sc.done++
	}
	if mb.closed {
		return Message{}, nil, ErrExited
	}
	if mb.notify == nil {
		mb.notify = make(chan struct{}, 1)
	}
	mb.waiting = true
	return Message{}, mb.notify, nil
}

// close empties and closes the mailbox, wakes the receiver and returns how
// many messages were discarded.
func (mb *mailbox) close() int {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return 0
	}
	mb.closed = true
	n := len(mb.q) - mb.head
	mb.q, mb.head = nil, 0
	wake := mb.notify
	mb.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	return n
}

// len returns the number of queued messages.
func (mb *mailbox) len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.q) - mb.head
}
