package cluster

import (
	"errors"
	"testing"
)

func TestParseProfile(t *testing.T) {
	for _, p := range []Profile{ProfileLAN, ProfileFast} {
		if got, err := ParseProfile(string(p)); err != nil || got != p {
			t.Errorf("ParseProfile(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParseProfile("wan"); !errors.Is(err, ErrBadProfile) {
		t.Fatalf("bad profile: %v", err)
	}
}

// The fast profile is faster than lan everywhere it sets a time.
func TestFastProfileIsFaster(t *testing.T) {
	lan, fast := ProfileLAN.timings(), ProfileFast.timings()
	if fast.purgeGrace >= lan.purgeGrace || fast.heartbeatSlack >= lan.heartbeatSlack ||
		fast.rejoin >= lan.rejoin || fast.settleTime >= lan.settleTime {
		t.Fatalf("fast %+v, lan %+v", fast, lan)
	}
	if f, l := ProfileFast.memberlist(), ProfileLAN.memberlist(); f.ProbeInterval >= l.ProbeInterval {
		t.Fatalf("fast probes every %v, lan every %v", f.ProbeInterval, l.ProbeInterval)
	}
}
