package cluster

// cutInterval is one stretch during which an incarnation was cut off (or,
// with to < 0, still is, or was killed and never comes back).
type cutInterval struct{ from, to int64 }

// cutLog records, per incarnation, every interval the nemesis cut it off
// (partition, freeze, the far side of a bridge) or killed it, in history
// time. A purge of an incarnation is explained only by an interval that
// covers it: from the cut's start until its heal plus a grace (a purge the
// leader decided just before the heal may commit just after it). A cut
// that healed long ago explains nothing.
type cutLog map[incarnation][]cutInterval

// open starts an interval for k at now, unless one is open already.
func (l cutLog) open(k incarnation, now int64) {
	iv := l[k]
	if len(iv) > 0 && iv[len(iv)-1].to < 0 {
		return
	}
	l[k] = append(iv, cutInterval{from: now, to: -1})
}

// closeAll ends every open interval at now, except those of killed
// incarnations (they stay cut for good).
func (l cutLog) closeAll(now int64, killed map[incarnation]int64) {
	for k, iv := range l {
		if _, dead := killed[k]; dead {
			continue
		}
		if len(iv) > 0 && iv[len(iv)-1].to < 0 {
			iv[len(iv)-1].to = now
		}
	}
}

// covers reports whether k was cut off at time at, allowing grace after
// each interval's end.
func (l cutLog) covers(k incarnation, at, grace int64) bool {
	for _, iv := range l[k] {
		if iv.from <= at && (iv.to < 0 || at <= iv.to+grace) {
			return true
		}
	}
	return false
}
