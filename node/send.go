package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/roster-dev/roster/transport"
)

// Dest is where Send delivers: a PID, a Name (a unique local name on this
// node), a RemoteName (a unique local name on a given node), a Global
// (cluster-wide name), a GlobalFenced (a global name with the fence of
// the registration the sender means), a Via (a key in any unique
// local.Registry) or a Pool (one member of a group, picked by a Strategy).
// Any other type gives ErrBadDest.
type Dest = any

// Name is a unique name in this node's Names registry, as a Dest.
type Name string

// RemoteName is a unique local name on another node (Erlang's {Name, Node}).
// With Node equal to this node it behaves like Name.
type RemoteName struct {
	Node NodeID
	Name string
}

// Send delivers msg to the destination with a zero From (see Process.Send
// to send as a process).
//
// A local destination gets the Go value itself, synchronously: Send returns
// ErrNoProc for a dead or stale pid, ErrMailboxFull for a full DropNewest
// mailbox, ErrNotFound for an unregistered name. A remote destination
// gets the value msgpack-encoded (ErrEncode if it cannot be): Send returns
// once the transport has queued it (blocking while the peer's queue is full,
// until ctx is done), or once it is queued behind monitor and link signals
// for that peer still waiting to be sent, so that a Monitor or Link followed
// by a Send reaches the peer in that order. Delivery is then at most once,
// and a message to a dead or stale remote pid is dropped there. Without a transport, remote sends
// fail with ErrNoRoute.
func (n *Node) Send(ctx context.Context, to Dest, msg any) error {
	return n.send(ctx, PID{}, to, msg)
}

// send routes msg from `from` (zero for the node itself).
func (n *Node) send(ctx context.Context, from PID, to Dest, msg any) error {
	switch d := to.(type) {
	case PID:
		return n.sendPID(ctx, from, d, msg, nil)
	case Name:
		pid, err := n.whereisName(string(d))
		if err != nil {
			return err
		}
		return n.sendPID(ctx, from, pid, msg, nil)
	case RemoteName:
		if d.Node == n.id {
			pid, err := n.whereisName(d.Name)
			if err != nil {
				return err
			}
			return n.sendPID(ctx, from, pid, msg, nil)
		}
		return n.sendRemote(ctx, d.Node, transport.Envelope{Kind: transport.KindMessage, From: from, ToName: d.Name}, msg)
	case Global, GlobalFenced:
		return n.sendGlobal(ctx, from, d, msg)
	case Via:
		pid, err := n.resolveVia(d)
		if err != nil {
			return err
		}
		return n.sendPID(ctx, from, pid, msg, nil)
	case Pool:
		pid, err := n.PickMember(d)
		if err != nil {
			return err
		}
		return n.sendPID(ctx, from, pid, msg, nil)
	default:
		return badDest(to)
	}
}

// badDest is the error for a Dest of an unknown type. It keeps `to` from
// escaping, so that boxing a PID into a Dest does not allocate.
func badDest(to Dest) error {
	if to == nil {
		return fmt.Errorf("%w: nil", ErrBadDest)
	}
	return fmt.Errorf("%w: %s", ErrBadDest, reflect.TypeOf(to))
}

// sendPID delivers to a pid. env, when non-nil, is a prepared envelope
// (global name and fence set) for the remote case.
func (n *Node) sendPID(ctx context.Context, from, to PID, msg any, env *transport.Envelope) error {
	if to.IsZero() {
		n.stats.dropped.Add(1)
		return fmt.Errorf("%w: zero pid", ErrNoProc)
	}
	if to.Node == n.id {
		p := n.lookup(to)
		if p == nil {
			n.stats.dropped.Add(1)
			return fmt.Errorf("%w: %s", ErrNoProc, to)
		}
		return p.deliver(Message{From: from, Body: msg})
	}
	e := transport.Envelope{Kind: transport.KindMessage}
	if env != nil {
		e = *env
	}
	e.From, e.To = from, to
	return n.sendRemote(ctx, to.Node, e, msg)
}

// envelopes recycles the envelopes of remote sends: the transport encodes
// an envelope before Send returns, so it can be reused at once.
var envelopes = sync.Pool{New: func() any { return new(transport.Envelope) }}

// sendRemote encodes msg (with its registered type name, if any) and hands
// it to the transport in env. The body is encoded into a pooled buffer and
// the envelope is pooled, so that a remote send allocates nothing itself.
func (n *Node) sendRemote(ctx context.Context, peer NodeID, env transport.Envelope, msg any) error {
	if n.tr == nil {
		n.stats.dropped.Add(1)
		return fmt.Errorf("%w: %s (no transport)", ErrNoRoute, peer)
	}
	enc := encoders.Get().(*bodyEncoder)
	body, err := enc.encode(msg)
	if err != nil {
		enc.release()
		return err
	}
	env.Body, env.Type = body, n.types.nameOf(msg)
	e := envelopes.Get().(*transport.Envelope)
	*e = env
	if n.out.pushIfPending(peer, e) {
		// Queued behind the signals for peer, in order. The outbox keeps e
		// and its body: neither goes back to its pool.
		n.stats.out.Add(1)
		return nil
	}
	err = n.tr.Send(ctx, peer, e)
	*e = transport.Envelope{}
	envelopes.Put(e)
	enc.release()
	if err != nil {
		n.stats.dropped.Add(1)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrNoRoute, peer, err)
	}
	n.stats.out.Add(1)
	return nil
}

// resolve turns a Dest into a pid (for Monitor).
func (n *Node) resolve(ctx context.Context, to Dest) (PID, error) {
	switch d := to.(type) {
	case PID:
		if d.IsZero() {
			return PID{}, fmt.Errorf("%w: zero pid", ErrNoProc)
		}
		return d, nil
	case Name:
		return n.whereisName(string(d))
	case RemoteName:
		if d.Node == n.id {
			return n.whereisName(d.Name)
		}
		return PID{}, fmt.Errorf("%w: cannot resolve a remote name to monitor: %v", ErrBadDest, d)
	case Global:
		pid, _, err := n.lookupGlobal(ctx, string(d))
		return pid, err
	case GlobalFenced:
		pid, _, err := n.lookupGlobal(ctx, d.Name)
		return pid, err
	case Via:
		return n.resolveVia(d)
	case Pool:
		return n.PickMember(d)
	default:
		return PID{}, badDest(to)
	}
}
