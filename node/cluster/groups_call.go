package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/roster-dev/roster/node"
	"github.com/vmihailenco/msgpack/v5"
)

// groupCallTag marks GroupCall and GroupCallReply messages.
const (
	groupCallTag  = "roster.group_call"
	groupReplyTag = "roster.group_reply"
)

// GroupCall is the message a member receives from MultiCall (syn's
// multi_call). Recognise it with AsGroupCall, read the request with
// Decode, and answer with ReplyGroupCall.
type GroupCall struct {
	Tag     string   `msgpack:"tag"`
	ReplyTo node.PID `msgpack:"to"`
	Ref     uint64   `msgpack:"ref"`
	Request []byte   `msgpack:"req"` // msgpack encoding of the request
}

// Decode stores the request in v (a non-nil pointer).
func (c GroupCall) Decode(v any) error {
	if err := msgpack.Unmarshal(c.Request, v); err != nil {
		return fmt.Errorf("%w: %w", node.ErrDecode, err)
	}
	return nil
}

// GroupCallReply is a member's answer to a GroupCall.
type GroupCallReply struct {
	Tag   string `msgpack:"tag"`
	Ref   uint64 `msgpack:"ref"`
	Reply []byte `msgpack:"rep,omitempty"`
	Error string `msgpack:"err,omitempty"`
}

// AsGroupCall reports whether m is a GroupCall, and returns it.
func AsGroupCall(m node.Message) (GroupCall, bool) {
	var c GroupCall
	if v, ok := m.Body.(GroupCall); ok {
		c = v
	} else if !m.Remote() || m.Decode(&c) != nil {
		return GroupCall{}, false
	}
	return c, c.Tag == groupCallTag && !c.ReplyTo.IsZero()
}

// ReplyGroupCall sends reply (or, with a non-nil err, the error's text) to
// the MultiCall that sent call, from process p.
func ReplyGroupCall(ctx context.Context, p *node.Process, call GroupCall, reply any, err error) error {
	r := GroupCallReply{Tag: groupReplyTag, Ref: call.Ref}
	if err != nil {
		r.Error = err.Error()
	} else {
		b, merr := msgpack.Marshal(reply)
		if merr != nil {
			return fmt.Errorf("%w: %T: %w", node.ErrEncode, reply, merr)
		}
		r.Reply = b
	}
	return p.Send(ctx, call.ReplyTo, r)
}

// GroupReply is one member's outcome in MultiCall: its reply (Decode it)
// or Err (the member's own error as a *GroupCallError, its exit or its
// node's loss as a node.Down reason, or ctx's error when time ran out).
type GroupReply struct {
	PID   node.PID
	Err   error
	reply []byte
}

// Decode stores the reply in v (a non-nil pointer).
func (r GroupReply) Decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	if err := msgpack.Unmarshal(r.reply, v); err != nil {
		return fmt.Errorf("%w: %w", node.ErrDecode, err)
	}
	return nil
}

// GroupCallError is the error a member answered a GroupCall with.
type GroupCallError struct{ Message string }

func (e *GroupCallError) Error() string { return "cluster: member replied with an error: " + e.Message }

// groupSpawner starts the process that collects MultiCall's replies.
type groupSpawner interface {
	Spawn(fn node.ProcessFunc, opts ...node.SpawnOption) (node.PID, error)
}

// MultiCall sends req to every member of group (as seen here) and waits
// for each one's reply, its death (its monitor fires) or ctx's end,
// whichever comes first, and returns one GroupReply per member in pid
// order. Members answer with ReplyGroupCall. The call fails as a whole
// only when req cannot be encoded or the collector cannot start.
func (s *GroupScope) MultiCall(ctx context.Context, group string, req any) ([]GroupReply, error) {
	if err := ValidateGroupName(group); err != nil {
		return nil, err
	}
	sp, ok := s.e.rt.(groupSpawner)
	if !ok {
		return nil, errors.New("cluster: multi call needs a runtime that can spawn")
	}
	body, err := msgpack.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %w", node.ErrEncode, req, err)
	}
	members := s.GroupMembers(group)
	out := make([]GroupReply, len(members))
	if len(members) == 0 {
		return out, nil
	}
	done := make(chan struct{})
	_, err = sp.Spawn(func(_ context.Context, p *node.Process) error {
		defer close(done)
		collectGroupCall(ctx, p, members, body, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	<-done
	return out, nil
}

// collectGroupCall runs in the collector process: it monitors and calls
// every member, then fills out as replies and Downs arrive.
func collectGroupCall(ctx context.Context, p *node.Process, members []GroupMember, body []byte, out []GroupReply) {
	pending := make(map[uint64]int, len(members)) // ref -> index
	for i, m := range members {
		out[i].PID = m.PID
		ref, err := p.Monitor(m.PID)
		if err != nil {
			out[i].Err = err
			continue
		}
		pending[uint64(ref)] = i
		call := GroupCall{Tag: groupCallTag, ReplyTo: p.PID(), Ref: uint64(ref), Request: body}
		if err := p.Send(ctx, m.PID, call); err != nil {
			out[i].Err = err
			p.Demonitor(ref)
			delete(pending, uint64(ref))
		}
	}
	for len(pending) > 0 {
		msg, err := p.Receive(ctx)
		if err != nil {
			for ref, i := range pending {
				out[i].Err = err
				p.Demonitor(node.Ref(ref))
			}
			return
		}
		if d, ok := msg.Body.(node.Down); ok {
			if i, ok := pending[uint64(d.Ref)]; ok {
				out[i].Err = fmt.Errorf("cluster: member %s went: %w", d.PID, d.Reason)
				delete(pending, uint64(d.Ref))
			}
			continue
		}
		var r GroupCallReply
		if v, ok := msg.Body.(GroupCallReply); ok {
			r = v
		} else if msg.Decode(&r) != nil {
			continue
		}
		i, ok := pending[r.Ref]
		if r.Tag != groupReplyTag || !ok {
			continue // a late or stray message
		}
		delete(pending, r.Ref)
		p.Demonitor(node.Ref(r.Ref))
		if r.Error != "" {
			out[i].Err = &GroupCallError{Message: r.Error}
		} else {
			out[i].reply = r.Reply
		}
	}
}
