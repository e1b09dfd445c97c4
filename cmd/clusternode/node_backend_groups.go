package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

var _ groupsBackend = (*nodeBackend)(nil)

// groupErr maps the groups' errors to the daemon's.
func groupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrGroupNameEmpty), errors.Is(err, cluster.ErrGroupNameTooLong), errors.Is(err, cluster.ErrGroupNameInvalid):
		return badReq("invalid_group", "%v", err)
	case errors.Is(err, cluster.ErrGroupMetaTooLarge):
		return badReq("meta_too_large", "%v", err)
	case errors.Is(err, cluster.ErrGroupNotLocal):
		return badReq("remote_pid", "%v (join through the pid's own node)", err)
	case errors.Is(err, cluster.ErrGroupNotMember):
		return fmt.Errorf("%w: %w", errNotFound, err)
	case errors.Is(err, cluster.ErrGroupClosed):
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return mapErr(err)
}

func toMemberJSON(m cluster.GroupMember) groupMemberJSON {
	return groupMemberJSON{PID: m.PID.String(), Node: string(m.PID.Node), Meta: json.RawMessage(m.Meta), Count: m.Count}
}

func (b *nodeBackend) JoinClusterGroup(group string, pid transport.PID, meta json.RawMessage) (groupMemberJSON, error) {
	if err := b.n.JoinGroup(group, pid, meta); err != nil {
		return groupMemberJSON{}, groupErr(err)
	}
	for _, m := range b.n.LocalGroupMembers(group) {
		if m.PID == pid {
			return toMemberJSON(m), nil
		}
	}
	return groupMemberJSON{PID: pid.String(), Node: string(pid.Node), Meta: meta, Count: 1}, nil // it already exited
}

func (b *nodeBackend) LeaveClusterGroup(group string, pid transport.PID) error {
	return groupErr(b.n.LeaveGroup(group, pid))
}

func (b *nodeBackend) ClusterGroupMembers(group string, limit int) ([]groupMemberJSON, bool, error) {
	if err := cluster.ValidateGroupName(group); err != nil {
		return nil, false, groupErr(err)
	}
	scope, _ := b.n.GroupScope(cluster.DefaultGroupScope)
	ms, more := scope.GroupMembersLimit(group, limit)
	out := make([]groupMemberJSON, len(ms))
	for i, m := range ms {
		out[i] = toMemberJSON(m)
	}
	return out, more, nil
}

func (b *nodeBackend) ListClusterGroups(prefix, after string, limit int) ([]groupInfoJSON, bool, error) {
	if len(prefix) > cluster.MaxGroupNameLen || len(after) > cluster.MaxGroupNameLen {
		return nil, false, badReq("invalid_group", "prefix or after longer than %d bytes", cluster.MaxGroupNameLen)
	}
	infos, more := b.n.ListGroups(prefix, after, limit)
	out := make([]groupInfoJSON, len(infos))
	for i, gi := range infos {
		out[i] = groupInfoJSON{Name: gi.Name, Members: gi.Members, Local: gi.Local}
	}
	return out, more, nil
}

func (b *nodeBackend) PublishClusterGroup(ctx context.Context, group string, body json.RawMessage) (int, error) {
	n, err := b.n.Publish(ctx, group, body)
	return n, groupErr(err)
}

func (b *nodeBackend) CallClusterGroup(ctx context.Context, group string, body json.RawMessage) ([]groupReplyJSON, error) {
	var req any
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badReq("bad_json", "%v", err)
	}
	replies, err := b.n.MultiCall(ctx, group, req)
	if err != nil {
		return nil, groupErr(err)
	}
	out := make([]groupReplyJSON, len(replies))
	for i, r := range replies {
		out[i].PID = r.PID.String()
		var v any
		if err := r.Decode(&v); err != nil {
			out[i].Error = err.Error()
			continue
		}
		out[i].Reply = renderBody(v)
	}
	return out, nil
}

func (b *nodeBackend) WatchClusterGroups(ctx context.Context, prefix string) (<-chan groupEventJSON, error) {
	mon, err := b.n.MonitorGroupPrefix(ctx, prefix)
	if err != nil {
		return nil, groupErr(err)
	}
	out := make(chan groupEventJSON, 64)
	go func() {
		defer close(out)
		defer mon.Close()
		for ev := range mon.Events() {
			e := groupEventJSON{Type: ev.Kind.String(), Group: ev.Group, PID: ev.Member.PID.String(),
				Node: string(ev.Member.PID.Node), Meta: json.RawMessage(ev.Member.Meta), Count: ev.Member.Count,
				Reason: string(ev.Reason)}
			if ev.ExitReason != nil {
				e.ExitReason = node.ReasonToWire(ev.ExitReason).Code
				if msg := node.ReasonToWire(ev.ExitReason).Message; msg != "" {
					e.ExitReason += ": " + msg
				}
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		if err := mon.Err(); err != nil && ctx.Err() == nil {
			select {
			case out <- groupEventJSON{Type: "error", Error: err.Error()}:
			case <-ctx.Done():
			}
		}
	}()
	return out, nil
}
