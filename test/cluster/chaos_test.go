package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Environment knobs of the chaos tests.
const (
	// SeedEnv replays one seed: ROSTER_CHAOS_SEED=42 go test -run TestChaos.
	SeedEnv = "ROSTER_CHAOS_SEED"
)

// ciScenarios is the bounded set that runs in every `go test`: about
// 3 × 17 s, two 3-node runs and one 5-node run.
var ciScenarios = []ChaosOptions{
	{Seed: 1, Nodes: 3, Duration: 12 * time.Second, Strict: true},
	{Seed: 2, Nodes: 3, Duration: 12 * time.Second, Strict: true},
	{Seed: 3, Nodes: 5, Duration: 12 * time.Second, Strict: true},
}

// TestChaos runs the seeded chaos scenarios and prints what they measured.
// ROSTER_CHAOS_SEED replays one seed; ROSTER_SOAK=30m runs seeds for that
// long instead (30 s each, alternating 3 and 5 nodes; a value that is not
// a duration means 30m).
func TestChaos(t *testing.T) {
	scenarios := ciScenarios
	if s := os.Getenv(SeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		nodes := 3
		if seed%3 == 0 {
			nodes = 5
		}
		scenarios = []ChaosOptions{{Seed: seed, Nodes: nodes, Duration: 12 * time.Second, Strict: true}}
	}
	var soak time.Duration
	if s := os.Getenv(SoakEnv); s != "" {
		soak = 30 * time.Minute // a value that is not a duration (ROSTER_SOAK=1)
		if d, err := time.ParseDuration(s); err == nil {
			soak = d
		}
	}
	var reports []Report
	runOne := func(o ChaosOptions) {
		t.Run(fmt.Sprintf("seed=%d/nodes=%d", o.Seed, o.Nodes), func(t *testing.T) {
			reports = append(reports, RunChaos(t, o))
		})
	}
	if soak > 0 {
		end := time.Now().Add(soak)
		for seed := uint64(time.Now().UnixNano()); time.Now().Before(end); seed++ {
			nodes := 3
			if seed%2 == 0 {
				nodes = 5
			}
			runOne(ChaosOptions{Seed: seed, Nodes: nodes, Duration: 30 * time.Second, Strict: true})
		}
	} else {
		for _, o := range scenarios {
			runOne(o)
		}
	}
	t.Log(summarize(reports))
}

// summarize totals the figures of several runs.
func summarize(reports []Report) string {
	var b strings.Builder
	var ops, checked, violations, reuse, histories int
	var purges, failovers []time.Duration
	var worstGap time.Duration
	var rate float64
	for _, r := range reports {
		fmt.Fprintf(&b, "  %s\n", r.Summary())
		ops += r.Ops
		checked += r.Checked
		if r.Linearizable == porcupine.Ok {
			histories++
		}
		violations += len(r.Violations)
		reuse += len(r.FenceReuse)
		purges = append(purges, r.Purges...)
		failovers = append(failovers, r.Failovers...)
		worstGap = max(worstGap, r.Unavailable)
		rate += r.OpsPerSec
	}
	if len(reports) > 0 {
		rate /= float64(len(reports))
	}
	return fmt.Sprintf("chaos summary: %d runs, %d of them linearizable, %d ops (%.0f ops/s under faults), %d checked, %d violations, "+
		"%d shared fences\n  purge times: %s\n  failover times: %s\n  longest write unavailability: %v\n%s",
		len(reports), histories, ops, rate, checked, violations, reuse, durs(purges), durs(failovers), worstGap.Round(time.Millisecond), b.String())
}
