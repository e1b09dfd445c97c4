package node

import (
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Message is one entry of a process mailbox.
//
// Local sends pass the Go value as is: Body is the very value the sender
// passed (no copy, no encoding), so the sender must not mutate it after
// sending. Remote sends msgpack-encode the value. On the receiving node,
// Body holds a value of the same Go type when that type is registered on
// both nodes (RegisterType), and otherwise a generic decoding (string,
// int64, []any, map[string]any, ...). Decode stores the body in a typed
// variable whatever the sender's node: a direct assignment when the types
// match, otherwise a msgpack decoding (of the original bytes for a remote
// message), so code that always calls Decode works wherever the sender
// lives.
type Message struct {
	// From is the sending process, or the zero PID for Node.Send and for
	// system messages (Down, ExitSignal).
	From PID
	// Body is the payload: the sender's value (local), a value of its
	// registered type, or its generic msgpack decoding (remote).
	// Down and ExitSignal arrive as Body.
	Body any
	// raw is the msgpack encoding of a remote message of unregistered
	// type, for Decode.
	raw    []byte
	remote bool
	// call is where the answer goes when the message is a Call's request.
	call *ReplyTo
}

// IsCall reports whether the message is a request made with Call, to be
// answered with Reply(ctx, m.ReplyTo(), reply).
func (m Message) IsCall() bool { return m.call != nil }

// ReplyTo returns where the answer to a call goes; the zero ReplyTo if the
// message is not a call.
func (m Message) ReplyTo() ReplyTo {
	if m.call == nil {
		return ReplyTo{}
	}
	return *m.call
}

// Remote reports whether the message came from another node.
func (m Message) Remote() bool { return m.remote }

// Decode stores the body in v, which must be a non-nil pointer. For a remote
// message of unregistered type it msgpack-decodes the original bytes;
// otherwise it assigns Body when its type is assignable to *v, else
// round-trips Body through msgpack. Errors wrap ErrDecode.
func (m Message) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: target must be a non-nil pointer, got %T", ErrDecode, v)
	}
	if m.raw != nil {
		if err := msgpack.Unmarshal(m.raw, v); err != nil {
			return fmt.Errorf("%w: %w", ErrDecode, err)
		}
		return nil
	}
	elem := rv.Elem()
	if m.Body == nil {
		elem.Set(reflect.Zero(elem.Type()))
		return nil
	}
	if bv := reflect.ValueOf(m.Body); bv.Type().AssignableTo(elem.Type()) {
		elem.Set(bv)
		return nil
	}
	b, err := msgpack.Marshal(m.Body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return nil
}

// Down is delivered as Message.Body to a monitoring process when the
// monitored process exits (or was already dead: Reason NoProc), or its node
// becomes unreachable (NoConnection) or is declared dead (NodeDown).
type Down struct {
	Ref    Ref   // the reference Monitor returned
	PID    PID   // the monitored process
	Reason error // why it went; compare with errors.Is
}

// ExitSignal is delivered as Message.Body to a process that traps exits,
// instead of killing it, when a linked process exits or Node.Exit targets
// it.
type ExitSignal struct {
	From   PID   // the exiting linked process; zero for Node.Exit
	Reason error // its exit reason
}
