package cluster

import (
	"context"
	"fmt"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// Publish sends msg to every member of group, on every node, and returns
// how many members it was sent to. Local members get the Go value itself
// (like node.Send); for each other node that has members, msg is encoded
// once and travels in one batched frame, which that node fans out to its
// members (nodes without members get nothing). A member that joined
// several times gets msg once. Delivery to remote members is at most once:
// a frame lost with its connection is dropped (and counted). Publish
// blocks only while a peer's publish queue is full
// (GroupConfig.PublishQueueBytes), until ctx is done; it then returns the
// count so far and ctx's error. Messages carry a zero From.
func (s *GroupScope) Publish(ctx context.Context, group string, msg any) (int, error) {
	return s.publish(ctx, group, msg, true)
}

// PublishLocal sends msg to group's members on this node only.
func (s *GroupScope) PublishLocal(ctx context.Context, group string, msg any) (int, error) {
	return s.publish(ctx, group, msg, false)
}

type groupPubTarget struct {
	l *groupLink
	n int
}

func (s *GroupScope) publish(ctx context.Context, group string, msg any, remote bool) (int, error) {
	if err := ValidateGroupName(group); err != nil {
		return 0, err
	}
	var locals []node.PID
	var targets []groupPubTarget
	s.mu.RLock()
	if g := s.groups[group]; g != nil {
		for id, ns := range g.nodes {
			if id == s.e.self {
				locals = make([]node.PID, 0, len(ns.members))
				for serial := range ns.members {
					locals = append(locals, node.PID{Node: id, Incarnation: ns.inc, Serial: serial})
				}
			} else if l := s.links[id]; l != nil && remote && len(ns.members) > 0 {
				targets = append(targets, groupPubTarget{l, len(ns.members)})
			}
		}
	}
	s.mu.RUnlock()
	sent := 0
	for _, pid := range locals {
		if s.e.rt.Send(ctx, pid, msg) == nil {
			sent++
		}
	}
	if len(targets) == 0 {
		return sent, nil
	}
	body, err := msgpack.Marshal(msg)
	if err != nil {
		return sent, fmt.Errorf("%w: %T: %w", node.ErrEncode, msg, err)
	}
	item := groupPubItem{Scope: s.name, Group: group, Body: body}
	if tn, ok := s.e.rt.(interface{ MessageType(any) string }); ok {
		item.Type = tn.MessageType(msg)
	}
	for _, t := range targets {
		if err := t.l.publish(ctx, item); err != nil {
			if ctx.Err() != nil {
				return sent, err
			}
			continue // that peer just went
		}
		sent += t.n
	}
	return sent, nil
}

// publish queues one item for the peer, waiting while the queue is full.
func (l *groupLink) publish(ctx context.Context, it groupPubItem) error {
	for {
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return fmt.Errorf("%w: link to %s stopped", ErrGroupClosed, l.peer)
		}
		if l.pubBytes == 0 || l.pubBytes+len(it.Body) <= l.e.cfg.PublishQueueBytes {
			l.pubs = append(l.pubs, it)
			l.pubBytes += len(it.Body)
			l.mu.Unlock()
			l.kick()
			return nil
		}
		if l.room == nil {
			l.room = make(chan struct{})
		}
		room := l.room
		l.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// groupPubFrame is the most body bytes one publish frame carries.
const groupPubFrame = 1 << 20

// flushPublish sends the queued publishes, in frames of about
// groupPubFrame bytes. A failed frame's items are dropped (at most once).
func (l *groupLink) flushPublish() error {
	for {
		l.mu.Lock()
		if len(l.pubs) == 0 {
			l.mu.Unlock()
			return nil
		}
		n, size := 0, 0
		for n < len(l.pubs) && (n == 0 || size+len(l.pubs[n].Body) <= groupPubFrame) {
			size += len(l.pubs[n].Body)
			n++
		}
		items := l.pubs[:n:n]
		if n == len(l.pubs) {
			l.pubs = nil
		} else {
			l.pubs = l.pubs[n:]
		}
		l.pubBytes -= size
		if l.room != nil {
			close(l.room)
			l.room = nil
		}
		l.mu.Unlock()
		body, err := encodeGroupMsg(&groupPublishMsg{Items: items})
		if err == nil {
			err = l.call(groupMethodPublish, body)
		}
		if err != nil {
			l.e.stats.pubDropped.Add(uint64(len(items)))
			return err
		}
	}
}

// acceptPublish delivers a peer's published messages to local members.
func (e *groupEngine) acceptPublish(_ context.Context, from node.NodeID, body []byte) error {
	var msg groupPublishMsg
	if err := decodeGroupMsg(body, &msg); err != nil {
		return err
	}
	env := transport.Envelope{Kind: transport.KindMessage}
	var serials []uint64
	for i := range msg.Items {
		it := &msg.Items[i]
		s, err := e.scope(it.Scope)
		if err != nil {
			continue
		}
		serials = serials[:0]
		s.mu.RLock()
		if g := s.groups[it.Group]; g != nil {
			if ns := g.nodes[e.self]; ns != nil {
				for serial := range ns.members {
					serials = append(serials, serial)
				}
			}
		}
		s.mu.RUnlock()
		env.Body, env.Type = it.Body, it.Type
		for _, serial := range serials {
			env.To = node.PID{Node: e.self, Incarnation: e.inc, Serial: serial}
			e.rt.HandleEnvelope(from, &env)
		}
	}
	return nil
}
