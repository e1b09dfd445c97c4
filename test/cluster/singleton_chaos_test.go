package cluster

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// singletonCIScenarios run in every `go test`.
var singletonCIScenarios = []SingletonChaosOptions{
	{Seed: 1, Nodes: 3, Duration: 12 * time.Second},
	{Seed: 2, Nodes: 5, Duration: 12 * time.Second},
}

// TestSingletonChaos runs the seeded singleton chaos scenarios: no two
// instances of a singleton at once, fences growing, no gap over the bound.
// ROSTER_CHAOS_SEED replays one seed; ROSTER_SOAK=N (a count, default 30)
// runs N seeds of 20 s, alternating 3 and 5 nodes, and prints the totals.
func TestSingletonChaos(t *testing.T) {
	scenarios := singletonCIScenarios
	if s := os.Getenv(SeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		scenarios = []SingletonChaosOptions{{Seed: seed, Nodes: 3 + 2*int(seed%2), Duration: 12 * time.Second}}
	}
	if s := os.Getenv(SoakEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 1 {
			n = 30
		}
		scenarios = nil
		base := uint64(time.Now().UnixNano())
		for i := range n {
			seed := base + uint64(i)
			scenarios = append(scenarios, SingletonChaosOptions{Seed: seed, Nodes: 3 + 2*int(seed%2), Duration: 20 * time.Second})
		}
	}
	var runs, instances, overlaps int
	var worst time.Duration
	for _, o := range scenarios {
		t.Run(fmt.Sprintf("seed=%d/nodes=%d", o.Seed, o.Nodes), func(t *testing.T) {
			r := RunSingletonChaos(t, o)
			runs++
			instances += r.Instances
			overlaps += len(r.Overlaps)
			worst = max(worst, r.MaxGap)
		})
	}
	t.Logf("SUMMARY singleton chaos: %d runs, %d instances, %d overlaps, longest gap %v", runs, instances, overlaps, worst.Round(time.Millisecond))
}

// TestInstanceLogCheck: the singleton checker reports overlapping
// instances, gaps over the bound and fences that do not grow.
func TestInstanceLogCheck(t *testing.T) {
	h := NewHistory()
	l := NewInstanceLog(h)
	add := func(s string, fence uint64, start, stop int64) {
		l.runs = append(l.runs, instanceRecord{singleton: s, node: "n", fence: fence, start: start, stop: stop})
	}
	sec := int64(time.Second)
	add("ok", 1, 0, 2*sec)
	add("ok", 2, 3*sec, -1) // 1 s gap, still running
	add("overlap", 1, 0, 2*sec)
	add("overlap", 2, sec, -1)
	add("gap", 1, 0, sec)
	add("gap", 2, 8*sec, 10*sec)
	add("fence", 5, 0, sec)
	add("fence", 4, 2*sec, 10*sec)
	overlaps, gaps, fences, maxGap := l.Check(10*sec, 5*time.Second)
	if len(overlaps) != 1 || overlaps[0][:8] != "overlap:" {
		t.Errorf("overlaps %v", overlaps)
	}
	if len(gaps) != 1 || gaps[0][:4] != "gap:" || maxGap != 7*time.Second {
		t.Errorf("gaps %v, max %v", gaps, maxGap)
	}
	if len(fences) != 1 || fences[0][:6] != "fence:" {
		t.Errorf("fences %v", fences)
	}
}
