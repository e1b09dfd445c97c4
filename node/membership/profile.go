package membership

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Profile is a set of failure-detection timings.
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
// The cluster controller then waits PurgeGrace (lan 2s, fast 250ms) before
// purging the dead node's names, and a node that refutes the suspicion in
// that window (it was only slow) keeps them.
const (
	// ProfileLAN suits LANs of 3–50 nodes: memberlist's DefaultLANConfig.
	ProfileLAN Profile = "lan"
	// ProfileFast suits one host or one rack: detection in about 1.5 s.
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

// PurgeGrace is how long the cluster controller waits after memberlist
// declares a node dead before purging its names, for this profile.
func (p Profile) PurgeGrace() time.Duration {
	if p == ProfileFast {
		return 250 * time.Millisecond
	}
	return 2 * time.Second
}

// memberlistConfig returns memberlist's configuration for the profile.
func (p Profile) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	if p == ProfileFast {
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
	// A node restarted at a new address may take its name back as soon as
	// its old self is dead or left.
	c.DeadNodeReclaimTime = time.Nanosecond
	return c
}
