package membership

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/roster-dev/roster/transport"
)

// delegate implements memberlist's Delegate, EventDelegate, AliveDelegate,
// MergeDelegate and ConflictDelegate. memberlist calls these from its own
// goroutines (packet handler, stream handler, probe loop); none blocks.
type delegate struct{ m *Membership }

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.AliveDelegate    = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte {
	d.m.metaMu.Lock()
	defer d.m.metaMu.Unlock()
	if len(d.m.metaB) > limit {
		return nil // cannot happen: encode enforces MaxMetaSize
	}
	return d.m.metaB
}

func (d *delegate) NotifyMsg([]byte)                    {}
func (d *delegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (d *delegate) LocalState(bool) []byte              { return nil }
func (d *delegate) MergeRemoteState(buf []byte, _ bool) {}

// check refuses a peer whose meta is malformed, of another cluster, of an
// incompatible protocol, or named differently from its meta.
func (d *delegate) check(n *memberlist.Node) error {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		return fmt.Errorf("peer %q: %w", n.Name, err)
	}
	if meta.Cluster != d.m.cfg.Meta.Cluster {
		return fmt.Errorf("%w: peer %q is in cluster %q, we are in %q",
			ErrWrongCluster, n.Name, meta.Cluster, d.m.cfg.Meta.Cluster)
	}
	if meta.Proto != ProtocolVersion {
		return fmt.Errorf("%w: peer %q speaks %d, we speak %d", ErrVersion, n.Name, meta.Proto, ProtocolVersion)
	}
	if string(meta.Node) != n.Name {
		return fmt.Errorf("%w: gossip name %q, meta %q", ErrNameMismatch, n.Name, meta.Node)
	}
	return nil
}

func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	if err := d.check(n); err != nil {
		d.m.log.Warn("refusing peer", "peer", n.Name, "addr", n.Address(), "reason", err)
		return err
	}
	return nil
}

func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if err := d.check(n); err != nil {
			d.m.log.Warn("refusing merge", "peer", n.Name, "addr", n.Address(), "reason", err)
			return err
		}
	}
	return nil
}

func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.m.log.Warn("two nodes claim one name; keeping the first until it is dead",
		"name", existing.Name, "existing", existing.Address(), "other", other.Address())
}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.publish(EventJoin, n) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.publish(EventUpdate, n) }
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	if meta, err := decodeMeta(n.Meta); err == nil && meta.Leaving {
		d.publish(EventLeave, n)
		return
	}
	d.publish(EventDead, n)
}

func (d *delegate) publish(t EventType, n *memberlist.Node) {
	mem, ok := toMember(n)
	if !ok {
		d.m.log.Warn("ignoring member with malformed meta", "peer", n.Name, "addr", n.Address())
		return
	}
	switch t {
	case EventLeave:
		mem.State = StateLeft
	case EventDead:
		mem.State = StateDead
	}
	id := transport.NodeID(n.Name)
	d.m.mu.Lock()
	if t == EventLeave {
		delete(d.m.seen, id)
	} else {
		d.m.seen[id] = n.Address()
	}
	d.m.members[id] = mem
	d.m.mu.Unlock()
	d.m.events.push(Event{Type: t, Member: mem, At: time.Now()})
}
