package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
	"github.com/roster-dev/roster/global"
)

// GlobalNameSuspect is delivered to a process (as Message.Body) that holds
// a global name while its node has been cut off from the Raft leader for
// longer than the purge grace: the majority may have purged the name and
// given it to someone else. The process should stop acting as the name's
// owner until it gets GlobalNameConfirmed (the name is still its own) or
// GlobalNameLost (it is not).
type GlobalNameSuspect struct {
	Name  string
	Fence uint64
	Since time.Duration // how long the node has been cut off
}

// GlobalNameConfirmed is delivered after GlobalNameSuspect when contact
// with the leader is back and the name is still the process's own.
type GlobalNameConfirmed struct {
	Name  string
	Fence uint64
}

// contactPoll is how often a node checks its contact with the leader.
const contactPoll = 100 * time.Millisecond

// cutOff reports how long this node has been without a leader it hears
// from (0 when in contact).
func (n *Node) cutOff() time.Duration {
	st := n.table.Stats()
	if st.State == raft.Leader {
		return 0
	}
	if leader, _ := n.table.Leader(); leader == "" || st.LastContact < 0 {
		return -1 // no leader known: measured from when we noticed
	}
	if st.LastContact > n.heartbeatSlack() {
		return st.LastContact
	}
	return 0
}

// heartbeatSlack is how long without leader contact is still normal: a
// few Raft heartbeats of the profile (profile.go).
func (n *Node) heartbeatSlack() time.Duration { return n.cfg.Profile.timings().heartbeatSlack }

// watchContact marks this node's global names suspect after it has been
// cut off longer than the purge grace, and confirms the survivors (or, via
// resync, reports the lost) when contact returns.
func (o *ownedNames) watchContact() {
	grace := o.n.purgeGrace()
	t := time.NewTicker(contactPoll)
	defer t.Stop()
	var since time.Time // start of the current cut-off; zero when in contact
	suspect := false
	var told []global.Registration // names marked suspect in this cut-off
	for {
		select {
		case <-o.n.ctx.Done():
			return
		case <-t.C:
		}
		d := o.n.cutOff()
		switch {
		case d != 0 && since.IsZero():
			since = time.Now()
			if d > 0 {
				since = since.Add(-d)
			}
		case d == 0 && !since.IsZero():
			if suspect && !o.confirm(told) {
				continue // could not verify with the leader yet: stay suspect, retry
			}
			since, suspect, told = time.Time{}, false, nil
		}
		if !since.IsZero() && !suspect && time.Since(since) > grace {
			suspect = true
			cut := time.Since(since)
			told = o.broadcast(func(r global.Registration) any {
				return GlobalNameSuspect{Name: r.Name, Fence: r.Fence, Since: cut}
			})
			if len(told) > 0 {
				o.n.Logger().Warn("cut off from the raft leader; this node's global names are suspect",
					"for", cut, "names", len(told))
			}
		}
	}
}

// confirm settles the names in told after contact returned: it asks the
// leader (a quorum-verified lease renewal, never this replica, which may
// not have applied the purge yet) which are still current, tells their
// owners GlobalNameConfirmed, and the others GlobalNameLost. It returns
// false, telling nothing, when the leader could not be asked.
func (o *ownedNames) confirm(told []global.Registration) bool {
	if len(told) == 0 {
		return true
	}
	regs := make([]global.NameFence, len(told))
	for i, r := range told {
		regs[i] = global.NameFence{Name: r.Name, Fence: r.Fence}
	}
	ctx, cancel := context.WithTimeout(o.n.ctx, 2*time.Second)
	g, err := o.n.table.RenewLease(ctx, regs)
	cancel()
	if err != nil {
		o.n.Logger().Debug("cannot verify suspect names with the leader yet", "error", err)
		return false
	}
	for i, r := range told {
		o.mu.Lock()
		cur, tracked := o.names[r.Name]
		mine := tracked && cur.Owner == r.Owner && cur.Fence == r.Fence
		if !g.Held[i] && mine {
			delete(o.names, r.Name)
		}
		o.mu.Unlock()
		switch {
		case !o.n.Alive(r.Owner):
		case g.Held[i] && mine:
			_ = o.n.Send(o.n.ctx, r.Owner, GlobalNameConfirmed{Name: r.Name, Fence: r.Fence})
		case !g.Held[i] && mine:
			o.notify(r, global.ReasonNodeDown)
		}
	}
	return true
}

// broadcast sends msg(r) to the owner of every tracked name and returns
// the names it told.
func (o *ownedNames) broadcast(msg func(global.Registration) any) []global.Registration {
	o.mu.Lock()
	regs := make([]global.Registration, 0, len(o.names))
	for _, r := range o.names {
		regs = append(regs, r)
	}
	o.mu.Unlock()
	for _, r := range regs {
		if o.n.Alive(r.Owner) {
			_ = o.n.Send(o.n.ctx, r.Owner, msg(r))
		}
	}
	return regs
}
