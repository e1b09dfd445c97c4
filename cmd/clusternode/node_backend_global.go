package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// The global and cluster half of nodeBackend, over *cluster.Node. The
// cluster node checks that an owner is a live local process and drops a
// process's global names when it exits.

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

func readOpts(consistent bool) []global.ReadOption {
	if consistent {
		return []global.ReadOption{global.Consistent}
	}
	return nil
}

func (b *nodeBackend) RegisterGlobal(ctx context.Context, name string, pid transport.PID, meta json.RawMessage) (registration, error) {
	reg, err := b.n.RegisterGlobal(ctx, name, pid, meta)
	if err != nil {
		return registration{}, mapErr(err)
	}
	return toRegistration(reg, global.ReadInfo{Index: reg.Index}), nil
}

func (b *nodeBackend) LookupGlobal(ctx context.Context, name string, consistent bool) (registration, error) {
	reg, info, err := b.n.LookupGlobal(ctx, name, readOpts(consistent)...)
	if err != nil {
		return registration{}, mapErr(err)
	}
	return toRegistration(reg, info), nil
}

func (b *nodeBackend) UnregisterGlobal(ctx context.Context, name string, pid transport.PID) error {
	return mapErr(b.n.UnregisterGlobal(ctx, name, pid))
}

func (b *nodeBackend) ListGlobal(ctx context.Context, prefix, after string, limit int, consistent bool) ([]registration, string, error) {
	regs, next, info, err := b.n.ListGlobalPage(ctx, prefix, after, limit, readOpts(consistent)...)
	if err != nil {
		return nil, "", mapErr(err)
	}
	out := make([]registration, len(regs))
	for i, r := range regs {
		out[i] = toRegistration(r, info)
	}
	return out, next, nil
}

// SendGlobal looks the name up in the local replica and sends with that
// registration's fence, so the message reaches that owner or nobody.
func (b *nodeBackend) SendGlobal(ctx context.Context, name string, body json.RawMessage) (registration, error) {
	reg, info, err := b.n.LookupGlobal(ctx, name)
	if err != nil {
		return registration{}, mapErr(err)
	}
	if err := b.n.Send(ctx, node.GlobalFenced{Name: name, Fence: reg.Fence}, body); err != nil {
		return registration{}, mapErr(err)
	}
	return toRegistration(reg, info), nil
}

// WatchGlobal converts global events (global's fromIndex is inclusive too).
func (b *nodeBackend) WatchGlobal(ctx context.Context, prefix string, from uint64) (<-chan nameEvent, error) {
	in, err := b.n.WatchGlobal(ctx, prefix, from)
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
	if !b.n.Healthy() {
		return fmt.Errorf("%w: no raft leader known, or not heard from it recently", errUnavailable)
	}
	if err := b.n.TransportHealth(); err != nil {
		return fmt.Errorf("%w: peers cannot reach this node: %w", errUnavailable, err)
	}
	return nil
}

func (b *nodeBackend) Status(ctx context.Context) (status, error) {
	cs, err := b.n.Status()
	if err != nil {
		return status{}, mapErr(err)
	}
	st := status{
		Node: cs.Node, Incarnation: cs.Incarnation, Leader: cs.Leader,
		Raft:    raftStatus{State: cs.RaftState, Term: cs.Term, LastIndex: cs.LastIndex, AppliedIndex: cs.Applied},
		Voters:  []transport.NodeID{},
		Members: make([]member, 0, len(cs.Members)),
	}
	if cs.LastContact > 0 {
		st.Raft.LastContact = cs.LastContact.Round(time.Millisecond).String()
	}
	roles := map[transport.NodeID]string{}
	for _, sv := range cs.Servers {
		roles[sv.ID] = "nonvoter"
		if !sv.Nonvoter {
			roles[sv.ID] = "voter"
			st.Voters = append(st.Voters, sv.ID)
		}
	}
	for _, m := range cs.Members {
		role := roles[m.Meta.Node]
		if role == "" {
			role = string(m.Meta.Role)
		}
		st.Members = append(st.Members, member{
			Node: m.Meta.Node, Addr: m.Addr, State: string(m.State), Role: role, Incarnation: m.Meta.Incarnation,
		})
	}
	return st, nil
}
