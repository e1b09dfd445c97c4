package cluster

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/roster-dev/roster/global"
)

// Profile picks every timing of a clustered node at once: gossip's failure
// detection (memberlist), Raft's timeouts (global.Timing), the
// controller's graces and intervals, and how long a missed Raft heartbeat
// is still normal. This file is the one place those numbers live.
type Profile string

// Timing profiles.
//
// Detection time of a crashed node is about: time until it is probed (up to
// (members-1) × ProbeInterval, half that on average) + ProbeTimeout +
// indirect probes, then the suspicion timeout, which memberlist computes as
// SuspicionMult × max(1, log10(members)) × ProbeInterval when other members
// confirm the suspicion, and up to SuspicionMaxTimeoutMult times that when
// nobody does. For clusters of up to 10 members:
//
//	profile  probe     timeout  suspicion (confirmed..alone)  expected detection
//	lan      1s        500ms    4s .. 24s                     ~5–6 s
//	fast     250ms     150ms    750ms .. 3s                   ~1.2–1.6 s
//
// The controller then waits the purge grace (lan 2s, fast 250ms) before
// purging the dead node's names, and a node that refutes the suspicion in
// that window (it was only slow) keeps them.
const (
	// ProfileLAN suits LANs of 3–50 nodes: memberlist's DefaultLANConfig,
	// hashicorp/raft's default timeouts; a crashed node's names go in ~7 s.
	ProfileLAN Profile = "lan"
	// ProfileFast suits one host or one rack: detection in about 1.5 s.
	// Too tight for a WAN or a heavily loaded machine.
	ProfileFast Profile = "fast"
)

// ParseProfile accepts "lan" or "fast".
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(s); p {
	case ProfileLAN, ProfileFast:
		return p, nil
	}
	return "", fmt.Errorf("%w: %q (want lan or fast)", ErrBadProfile, s)
}

// timings is everything a profile sets.
type timings struct {
	// Gossip (package membership).
	gossip func(*memberlist.Config) // failure detection and dissemination
	rejoin time.Duration            // membership.Config.RejoinInterval

	// Raft (package global): heartbeat, election, lease and commit timeouts.
	raft global.Timing

	// Controller (controller_config.go documents each).
	purgeGrace        time.Duration
	reconcileInterval time.Duration
	reconcileGrace    time.Duration
	deadServerGrace   time.Duration
	unseenGrace       time.Duration
	settleTime        time.Duration
	hintWindow        time.Duration
	opTimeout         time.Duration

	// Singleton and leader-election leases (lease.go). Length stays below
	// the profile's fastest purge (fast: ~1.2 s detection + 250 ms grace;
	// lan: ~5 s + 2 s), so the lease wait never delays a purge in practice.
	lease leaseTiming

	// Process groups' defaults (GroupConfig: linger, heartbeat, ...).
	groups GroupConfig

	// Transport redial backoff; 0: the transport's default (50 ms..5 s).
	// Fast redials a healed peer within 100 ms, so that group views and
	// forwarded writes resume within the fast profile's bounds.
	redialMin, redialMax time.Duration

	// heartbeatSlack is how long without leader contact is still normal
	// before a node counts itself cut off (suspect.go): a few Raft
	// heartbeats (raft's heartbeat timeout is 1 s for lan, 300 ms fast).
	heartbeatSlack time.Duration
}

// timings returns the profile's numbers (an unknown profile gets lan's).
func (p Profile) timings() timings {
	if p == ProfileFast {
		return timings{
			gossip: fastGossip, rejoin: time.Second,
			raft:       global.TimingFast,
			purgeGrace: 250 * time.Millisecond, reconcileInterval: 5 * time.Second,
			reconcileGrace: 3 * time.Second, deadServerGrace: time.Minute, unseenGrace: 9 * time.Second,
			settleTime: 500 * time.Millisecond, hintWindow: 5 * time.Second, opTimeout: 5 * time.Second,
			heartbeatSlack: 500 * time.Millisecond,
			lease:          leaseTiming{Length: time.Second, Renew: 200 * time.Millisecond, Stop: 250 * time.Millisecond, ClockRate: 0.01},
			groups:         FastGroupConfig(),
			redialMin:      5 * time.Millisecond, redialMax: 100 * time.Millisecond,
		}
	}
	return timings{
		gossip: func(*memberlist.Config) {}, rejoin: 5 * time.Second,
		raft:       global.TimingLAN,
		purgeGrace: 2 * time.Second, reconcileInterval: 30 * time.Second,
		reconcileGrace: 10 * time.Second, deadServerGrace: 10 * time.Minute, unseenGrace: 30 * time.Second,
		settleTime: 2 * time.Second, hintWindow: 30 * time.Second, opTimeout: 5 * time.Second,
		heartbeatSlack: 2 * time.Second,
		lease:          leaseTiming{Length: 4 * time.Second, Renew: 800 * time.Millisecond, Stop: time.Second, ClockRate: 0.01},
		groups:         DefaultGroupConfig(),
	}
}

// PurgeGrace is how long the controller waits after memberlist declares a
// node dead before purging its names, for this profile.
func (p Profile) PurgeGrace() time.Duration { return p.timings().purgeGrace }

// memberlist returns memberlist's configuration for the profile: its
// DefaultLANConfig, tightened for fast.
func (p Profile) memberlist() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	p.timings().gossip(c)
	return c
}

// fastGossip is the fast profile's memberlist timing.
func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 250 * time.Millisecond
	c.ProbeTimeout = 150 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 4
	c.IndirectChecks = 2
	c.GossipInterval = 50 * time.Millisecond
	c.GossipNodes = 3
	c.GossipToTheDeadTime = 5 * time.Second
	c.PushPullInterval = 5 * time.Second
	c.TCPTimeout = time.Second
	c.RetransmitMult = 3
}
