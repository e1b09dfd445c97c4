package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// The global and cluster half of nodeBackend. TODO(lead): once node wraps
// the global table (owner checks, UnregisterPID on exit, membership), point
// b.table and b.cluster at node's methods; nothing else here changes.

func (b *nodeBackend) tableOrErr() (globalTable, error) {
	if b.table == nil {
		return nil, fmt.Errorf("%w: global names are not configured on this node", errUnavailable)
	}
	return b.table, nil
}

func toRegistration(r global.Registration, info global.ReadInfo) registration {
	var meta json.RawMessage
	if len(r.Meta) > 0 {
		meta = renderBody(r.Meta)
	}
	return registration{
		Name: r.Name, PID: r.Owner, Node: r.Owner.Node, Meta: meta, Fence: r.Fence,
		Index: info.Index, Stale: info.Stale,
	}
}

func readOpts(ctx context.Context, consistent bool) []global.ReadOption {
	if consistent {
		return []global.ReadOption{global.Consistent, global.WithContext(ctx)}
	}
	return nil
}

func (b *nodeBackend) RegisterGlobal(ctx context.Context, name string, pid transport.PID, meta json.RawMessage) (registration, error) {
	t, err := b.tableOrErr()
	if err != nil {
		return registration{}, err
	}
	if !b.n.Alive(pid) {
		return registration{}, fmt.Errorf("%w: %s is not a live process on this node", errNoProc, pid)
	}
	reg, err := t.Register(ctx, name, pid, meta)
	if err != nil {
		return registration{}, mapErr(err)
	}
	if b.onRegistered != nil {
		b.onRegistered(pid)
	}
	return toRegistration(reg, global.ReadInfo{Index: reg.Index}), nil
}

func (b *nodeBackend) LookupGlobal(ctx context.Context, name string, consistent bool) (registration, error) {
	t, err := b.tableOrErr()
	if err != nil {
		return registration{}, err
	}
	reg, info, err := t.Lookup(name, readOpts(ctx, consistent)...)
	if err != nil {
		return registration{}, mapErr(err)
	}
	return toRegistration(reg, info), nil
}

func (b *nodeBackend) UnregisterGlobal(ctx context.Context, name string, pid transport.PID) error {
	t, err := b.tableOrErr()
	if err != nil {
		return err
	}
	return mapErr(t.Unregister(ctx, name, pid))
}

func (b *nodeBackend) ListGlobal(ctx context.Context, prefix string, consistent bool) ([]registration, error) {
	t, err := b.tableOrErr()
	if err != nil {
		return nil, err
	}
	regs, info, err := t.List(prefix, readOpts(ctx, consistent)...)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]registration, len(regs))
	for i, r := range regs {
		out[i] = toRegistration(r, info)
	}
	return out, nil
}

// SendGlobal looks the name up in the local replica and sends with that
// registration's fence, so the message reaches that owner or nobody.
func (b *nodeBackend) SendGlobal(ctx context.Context, name string, body json.RawMessage) (registration, error) {
	t, err := b.tableOrErr()
	if err != nil {
		return registration{}, err
	}
	reg, info, err := t.Lookup(name)
	if err != nil {
		return registration{}, mapErr(err)
	}
	if err := b.n.Send(ctx, node.GlobalFenced{Name: name, Fence: reg.Fence}, body); err != nil {
		return registration{}, mapErr(err)
	}
	return toRegistration(reg, info), nil
}

// WatchGlobal converts global events. global.Watch replays from an index
// inclusive; the API's index is the last one the client saw, so +1.
func (b *nodeBackend) WatchGlobal(ctx context.Context, prefix string, after uint64) (<-chan nameEvent, error) {
	t, err := b.tableOrErr()
	if err != nil {
		return nil, err
	}
	from := after
	if after > 0 {
		from = after + 1
	}
	in, err := t.Watch(ctx, prefix, from)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make(chan nameEvent)
	go func() {
		defer close(out)
		for ev := range in {
			select {
			case out <- toNameEvent(ev):
			case <-ctx.Done():
				return // in closes once ctx is done; the table drains it
			}
		}
	}()
	return out, nil
}

func toNameEvent(ev global.Event) nameEvent {
	out := nameEvent{
		Name: ev.Name, PID: ev.Owner, Node: ev.Owner.Node, Fence: ev.Fence, Index: ev.Index, Reason: string(ev.Reason),
	}
	switch ev.Type {
	case global.EventRegistered:
		out.Type = "registered"
	case global.EventUnregistered:
		out.Type = "unregistered"
	default:
		out.Type = "error"
		out.Err = "watch ended"
		if ev.Err != nil {
			out.Err = ev.Err.Error()
		}
	}
	if len(ev.Meta) > 0 {
		out.Meta = renderBody(ev.Meta)
	}
	return out
}

func (b *nodeBackend) Health() error {
	t, err := b.tableOrErr()
	if err != nil {
		return err
	}
	if leader, _ := t.Leader(); leader == "" {
		return fmt.Errorf("%w: no raft leader known", errUnavailable)
	}
	return nil
}

func (b *nodeBackend) Status(ctx context.Context) (status, error) {
	self, inc := b.Self()
	st := status{Node: self, Incarnation: inc, Voters: []transport.NodeID{}, Members: []member{}}
	if b.table != nil {
		st.Leader, _ = b.table.Leader()
		s := b.table.Stats()
		st.Raft = raftStatus{State: s.State.String(), Term: s.Term, LastIndex: s.LastIndex, AppliedIndex: s.AppliedIndex}
		if s.LastContact > 0 {
			st.Raft.LastContact = s.LastContact.Round(time.Millisecond).String()
		}
		servers, err := b.table.Configuration()
		if err != nil {
			return status{}, mapErr(err)
		}
		for _, sv := range servers {
			if !sv.Nonvoter {
				st.Voters = append(st.Voters, sv.ID)
			}
		}
	}
	if b.cluster != nil {
		st.Members = b.cluster.Members()
	} else {
		st.Members = append(st.Members, member{Node: self, State: "alive", Role: strings.ToLower(roleOf(st, self)), Incarnation: inc})
	}
	return st, nil
}

func roleOf(st status, id transport.NodeID) string {
	for _, v := range st.Voters {
		if v == id {
			return "voter"
		}
	}
	return "nonvoter"
}
