package cluster

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/roster-dev/roster/node"
)

// Process groups (Erlang's :pg, syn's groups) are available, not
// consistent: a join or leave never costs a Raft commit. Each node is the
// authority for its own members and replicates their changes to every peer
// over the transport, in batches, with a full sync when a peer appears or
// changes incarnation, and a digest heartbeat that turns any divergence into
// a resync. A node's members vanish from every view when membership declares
// it dead (node_down) or it leaves (node_left). Scopes are independent
// overlays, as in :pg: the same group name in two scopes is two groups.
//
// Lock order: groupEngine.mu, then GroupScope.mu, then groupLink.mu, then
// GroupMonitor.mu. The runtime's locks (process, node) are taken under
// GroupScope.mu only by Alive; the runtime never calls into the groups
// while holding its own.
//
// Bounds (everything a peer or client can grow): per peer and scope at
// most PeerQueueMax queued changes (then a full sync instead) and
// groupGoneMax remembered removals; PublishQueueBytes of queued publishes
// per peer (Publish waits); MaxMembersPerNode members per peer view and
// per incoming sync; MonitorBuffer events per monitor (then it ends with
// ErrGroupMonitorOverflow); group names MaxGroupNameLen, metadata
// MaxGroupMetaLen; at most MaxGroupScopes scopes, fixed at New; sync
// frames of about 1 MiB (the transport's frame limit is 4 MiB).

// Limits on group names and metadata.
const (
	// MaxGroupNameLen is the longest group name, in bytes.
	MaxGroupNameLen = 255
	// MaxGroupMetaLen is the largest per-member metadata, in bytes. Meta is
	// replicated to every node and kept in memory there: keep it small.
	MaxGroupMetaLen = 1024
	// MaxGroupScopes bounds Config.GroupScopes.
	MaxGroupScopes = 64
)

// DefaultGroupScope is the scope the Node's JoinGroup, GroupMembers, ...
// use. Other scopes are named in GroupConfig.Scopes.
const DefaultGroupScope = "default"

// Errors of the group API.
var (
	ErrGroupNameEmpty    = errors.New("cluster: empty group name")
	ErrGroupNameTooLong  = errors.New("cluster: group name too long")
	ErrGroupNameInvalid  = errors.New("cluster: group name is not valid UTF-8")
	ErrGroupMetaTooLarge = errors.New("cluster: group member metadata too large")
	// ErrGroupNotLocal: only processes of this node (this incarnation) can
	// join or leave through it; each node is the authority for its own.
	ErrGroupNotLocal = errors.New("cluster: pid is not a process of this node")
	// ErrGroupNotMember: LeaveGroup or UpdateGroupMeta of a pid that is not
	// a member of the group.
	ErrGroupNotMember = errors.New("cluster: pid is not a member of the group")
	// ErrGroupUnknownScope: a scope that GroupConfig.Scopes does not name.
	ErrGroupUnknownScope = errors.New("cluster: unknown group scope")
	// ErrGroupNoMembers: a dispatch to a group with no members.
	ErrGroupNoMembers = errors.New("cluster: group has no members")
	// ErrGroupClosed: the groups have been shut down.
	ErrGroupClosed = errors.New("cluster: groups closed")
	// ErrGroupMonitorOverflow ends a monitor whose consumer fell more than
	// GroupConfig.MonitorBuffer events behind; re-read the members and
	// monitor again.
	ErrGroupMonitorOverflow = errors.New("cluster: group monitor overflowed")

	// Errors a node answers a peer's sync or delta with (the peer then
	// resyncs later).
	ErrGroupUnknownPeer      = errors.New("cluster: group sync from a node membership does not know")
	ErrGroupStaleIncarnation = errors.New("cluster: group sync from an incarnation membership does not know")
	ErrGroupOutOfOrder       = errors.New("cluster: group delta out of order (resync needed)")
	ErrGroupSyncTooLarge     = errors.New("cluster: group sync exceeds the member limit")
	ErrGroupBadFrame         = errors.New("cluster: malformed group frame")
)

// GroupReason says why a member left a group. The strings are the same in
// Go, HTTP and SSE.
type GroupReason string

// Reasons a member leaves.
const (
	// GroupLeave: LeaveGroup (or, for a remote member, a resync found it gone).
	GroupLeave GroupReason = "leave"
	// GroupProcessExit: the member process exited; GroupEvent.ExitReason
	// holds its exit reason.
	GroupProcessExit GroupReason = "process_exit"
	// GroupNodeDown: membership declared the member's node (incarnation) dead.
	GroupNodeDown GroupReason = "node_down"
	// GroupNodeLeft: the member's node left the cluster gracefully.
	GroupNodeLeft GroupReason = "node_left"
)

// GroupMember is one member of a group: a process, its metadata and how many
// times it joined (it takes as many leaves to go).
type GroupMember struct {
	PID   node.PID
	Meta  []byte
	Count int
}

// GroupConfig tunes the process groups. The zero value of each field means
// its default.
type GroupConfig struct {
	// Scopes names the scopes besides DefaultGroupScope (at most
	// MaxGroupScopes). Every node should run the same scopes; a peer's sync
	// for a scope this node does not run is refused.
	Scopes []string
	// BatchMax is the most changes one delta frame carries. Default 4096.
	BatchMax int
	// Linger is the least time between two frames to one peer: changes
	// made meanwhile wait and go in one batch. Default 2 ms.
	Linger time.Duration
	// PeerQueueMax bounds the changes queued for one peer and scope. When
	// a slow or unreachable peer lets more pile up, they are dropped and
	// the peer gets a full sync instead. Default 65536.
	PeerQueueMax int
	// PublishQueueBytes bounds the Publish bodies queued for one peer, in
	// bytes; Publish blocks (until its ctx ends) while it is full.
	// Default 8 MiB.
	PublishQueueBytes int
	// MaxMembersPerNode bounds the members (group, pid) one peer may hold
	// in this node's view of one scope; a larger sync is refused.
	// Default 1,000,000.
	MaxMembersPerNode int
	// MonitorBuffer is the event buffer of one monitor. Default 1024.
	MonitorBuffer int
	// Heartbeat is how often a link with nothing to send sends its digest
	// so that a peer whose view diverged asks for a resync. Default 1 s.
	Heartbeat time.Duration
	// RetryMin and RetryMax bound the backoff between failed sends to a
	// peer. Default 20 ms and 1 s.
	RetryMin, RetryMax time.Duration
	// CallTimeout bounds one sync, delta or publish frame. Default 5 s.
	CallTimeout time.Duration
	// Reconcile is how often the cluster node compares the peers it
	// replicates to with gossip's live members (catching a missed event).
	// Default 5 s.
	Reconcile time.Duration
}

// DefaultGroupConfig returns the defaults.
func DefaultGroupConfig() GroupConfig {
	return GroupConfig{
		BatchMax: 4096, Linger: 2 * time.Millisecond, PeerQueueMax: 65536, PublishQueueBytes: 8 << 20,
		MaxMembersPerNode: 1_000_000, MonitorBuffer: 1024,
		Heartbeat: time.Second, RetryMin: 20 * time.Millisecond, RetryMax: time.Second,
		CallTimeout: 5 * time.Second, Reconcile: 5 * time.Second,
	}
}

// FastGroupConfig is DefaultGroupConfig with the timings of the fast
// profile: heartbeat 100 ms, retries 5..100 ms, reconcile 500 ms.
func FastGroupConfig() GroupConfig {
	c := DefaultGroupConfig()
	c.Heartbeat, c.RetryMin, c.RetryMax = 100*time.Millisecond, 5*time.Millisecond, 100*time.Millisecond
	c.CallTimeout, c.Reconcile = time.Second, 500*time.Millisecond
	return c
}

// withDefaults fills zero fields from DefaultGroupConfig.
func (c GroupConfig) withDefaults() GroupConfig {
	d := DefaultGroupConfig()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.BatchMax, d.BatchMax)
	set(&c.PeerQueueMax, d.PeerQueueMax)
	set(&c.PublishQueueBytes, d.PublishQueueBytes)
	set(&c.MaxMembersPerNode, d.MaxMembersPerNode)
	set(&c.MonitorBuffer, d.MonitorBuffer)
	setD(&c.Linger, d.Linger)
	setD(&c.Heartbeat, d.Heartbeat)
	setD(&c.RetryMin, d.RetryMin)
	setD(&c.RetryMax, d.RetryMax)
	setD(&c.CallTimeout, d.CallTimeout)
	setD(&c.Reconcile, d.Reconcile)
	return c
}

// Validate checks the scope names.
func (c GroupConfig) Validate() error {
	if len(c.Scopes) > MaxGroupScopes {
		return fmt.Errorf("%w: %d scopes, limit %d", ErrGroupUnknownScope, len(c.Scopes), MaxGroupScopes)
	}
	for _, s := range c.Scopes {
		if err := ValidateGroupName(s); err != nil {
			return fmt.Errorf("cluster: group scope %q: %w", s, err)
		}
	}
	return nil
}

// ValidateGroupName checks that name is 1..MaxGroupNameLen bytes of valid
// UTF-8.
func ValidateGroupName(name string) error {
	switch {
	case name == "":
		return ErrGroupNameEmpty
	case len(name) > MaxGroupNameLen:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrGroupNameTooLong, len(name), MaxGroupNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q", ErrGroupNameInvalid, name)
	}
	return nil
}

func validateGroupMeta(meta []byte) error {
	if len(meta) > MaxGroupMetaLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrGroupMetaTooLarge, len(meta), MaxGroupMetaLen)
	}
	return nil
}
