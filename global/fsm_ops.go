package global

import "github.com/roster-dev/roster/transport"

// The operations below run with f.mu held for writing, from Apply. They
// must be deterministic: no clocks, no randomness, no map-order effects.

func (f *fsm) isPurged(p transport.PID) bool {
	_, ok := f.purged[incarnation{Node: p.Node, Incarnation: p.Incarnation}]
	return ok
}

func (f *fsm) register(c *command, idx uint64) result {
	if f.isPurged(c.Owner) {
		return result{Code: codeOwnerGone}
	}
	if cur, ok := f.names[c.Name]; ok {
		return result{Code: codeAlreadyRegistered, Owner: cur.Owner, Fence: cur.Fence}
	}
	reg := Registration{Name: c.Name, Owner: c.Owner, Meta: c.Meta, Fence: f.fence, Index: idx}
	f.insert(reg, ReasonRegister)
	return result{Fence: f.fence}
}

func (f *fsm) reRegister(c *command, idx uint64) result {
	if f.isPurged(c.Owner) {
		return result{Code: codeOwnerGone}
	}
	cur, ok := f.names[c.Name]
	if ok && cur.Owner == c.Owner {
		cur.Meta, cur.Index = c.Meta, idx
		f.names[c.Name] = cur
		f.emit(EventRegistered, cur, idx, ReasonReRegister)
		return result{Fence: cur.Fence}
	}
	if ok {
		f.remove(cur, idx, ReasonConflict)
	}
	reg := Registration{Name: c.Name, Owner: c.Owner, Meta: c.Meta, Fence: f.fence, Index: idx}
	f.insert(reg, ReasonReRegister)
	return result{Fence: f.fence}
}

func (f *fsm) unregister(c *command, idx uint64) result {
	cur, ok := f.names[c.Name]
	if !ok {
		return result{Code: codeNotFound}
	}
	if !c.Force && cur.Owner != c.Owner {
		return result{Code: codeNotOwner, Owner: cur.Owner}
	}
	f.remove(cur, idx, ReasonUnregister)
	return result{Fence: cur.Fence, Count: 1}
}

func (f *fsm) updateMeta(c *command, idx uint64) result {
	cur, ok := f.names[c.Name]
	if !ok {
		return result{Code: codeNotFound}
	}
	if cur.Owner != c.Owner {
		return result{Code: codeNotOwner, Owner: cur.Owner}
	}
	cur.Meta, cur.Index = c.Meta, idx
	f.names[c.Name] = cur
	f.emit(EventRegistered, cur, idx, ReasonMeta)
	return result{Fence: cur.Fence}
}

func (f *fsm) unregisterPID(c *command, idx uint64) result {
	names := f.namesOfPID(c.Owner)
	for _, n := range names {
		f.remove(f.names[n], idx, c.Reason)
	}
	return result{Count: len(names)}
}

// purge removes the names of one incarnation of c.Node, or with c.Except of
// every incarnation but c.Incarnation, and remembers the purged
// incarnations so that a late Register from one of them fails.
func (f *fsm) purge(c *command, idx uint64) result {
	match := func(inc uint64) bool {
		if c.Except {
			return inc != c.Incarnation
		}
		return inc == c.Incarnation
	}
	names := f.namesOfNode(c.Node, match)
	if !c.Except {
		f.markPurged(incarnation{Node: c.Node, Incarnation: c.Incarnation}, idx)
	}
	for _, n := range names {
		reg := f.names[n]
		if c.Except {
			f.markPurged(incarnation{Node: c.Node, Incarnation: reg.Owner.Incarnation}, idx)
		}
		f.remove(reg, idx, c.Reason)
	}
	return result{Count: len(names)}
}

// revive forgets that an incarnation was purged: its node was declared
// dead (a partition, a pause) but came back with the same incarnation, so
// its processes may register again. Names purged stay purged.
func (f *fsm) revive(c *command) result {
	inc := incarnation{Node: c.Node, Incarnation: c.Incarnation}
	if _, ok := f.purged[inc]; !ok {
		return result{}
	}
	delete(f.purged, inc)
	f.purgedQ.remove(func(i incarnation) bool { return i == inc })
	return result{Count: 1}
}

func (f *fsm) markPurged(inc incarnation, idx uint64) {
	if inc.Incarnation == 0 {
		return
	}
	if _, ok := f.purged[inc]; ok {
		return
	}
	f.purged[inc] = idx
	f.purgedQ.push(inc)
	for f.purgedQ.len() > purgedSize {
		old, _ := f.purgedQ.pop()
		delete(f.purged, old)
	}
}

func (f *fsm) insert(reg Registration, why Reason) {
	f.names[reg.Name] = reg
	f.index(reg)
	f.emit(EventRegistered, reg, reg.Index, why)
}

// index adds reg to the derived indexes.
func (f *fsm) index(reg Registration) {
	f.order.ReplaceOrInsert(reg.Name)
	f.ownerAdd(reg)
}

func (f *fsm) remove(reg Registration, idx uint64, why Reason) {
	delete(f.names, reg.Name)
	f.order.Delete(reg.Name)
	f.ownerDel(reg)
	reg.Index = idx
	f.emit(EventUnregistered, reg, idx, why)
}
