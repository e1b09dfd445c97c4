package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Report is what one chaos run measured and found.
type Report struct {
	Seed     uint64
	Nodes    int
	Duration time.Duration
	// Ops is how many operations the history holds; OpsPerSec divides by
	// Duration (operations under faults).
	Ops       int
	OpsPerSec float64
	// Counts is operations by kind and outcome ("register/ok", ...).
	Counts map[string]int
	// Sends and Delivered count fenced probes sent and received.
	Sends, Delivered int
	// Purges are the times from killing a node that held names until no
	// survivor's replica held any of them.
	Purges []time.Duration
	// Failovers are the times from killing the leader until a new leader
	// accepted a write.
	Failovers []time.Duration
	// Unavailable is the longest stretch without an acknowledged write.
	Unavailable time.Duration
	// Linearizable is porcupine's verdict; Checked is how many operations
	// (client operations plus table-made removals) it checked.
	Linearizable porcupine.CheckResult
	Checked      int
	// Unchecked says why the history could not be checked, if so.
	Unchecked string
	// FenceReuse lists fences that more than one registration of a name
	// got, and Misrouted the fenced probes that reached the wrong owner
	// because of it. A bug the chaos runs found in global (group commit
	// gave every command of one Raft entry the entry's index as fence),
	// since fixed; TestFenceIdentifiesOneRegistration guards it.
	FenceReuse, Misrouted []string
	// Violations lists every broken invariant; empty on success.
	Violations []string
	// Nemesis is the fault log, for replaying a failure.
	Nemesis []string
}

// longestGap is the longest time without an acknowledged (ResOK) write,
// counting from the start and to the end of the run.
func longestGap(ops []porcupine.Operation, d time.Duration) time.Duration {
	var rets []int64
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if in.Kind != OpLookup && in.Kind != OpRemoved && out.Result == ResOK {
			rets = append(rets, op.Return)
		}
	}
	slices.Sort(rets)
	prev, gap := int64(0), int64(0)
	for _, r := range append(rets, int64(d)) {
		gap = max(gap, r-prev)
		prev = max(prev, r)
	}
	return time.Duration(gap)
}

func durs(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(s, " ")
}

// Summary is the report's one-paragraph figures.
func (r Report) Summary() string {
	return fmt.Sprintf("seed=%d nodes=%d dur=%v ops=%d (%.0f/s) checked=%d linearizable=%s violations=%d "+
		"purge=[%s] failover=[%s] unavailable=%v probes sent=%d delivered=%d",
		r.Seed, r.Nodes, r.Duration, r.Ops, r.OpsPerSec, r.Checked, r.Linearizable, len(r.Violations),
		durs(r.Purges), durs(r.Failovers), r.Unavailable.Round(time.Millisecond), r.Sends, r.Delivered)
}

// print logs the figures, and on violations fails t with the seed, the
// violations and the fault log.
func (r Report) print(t testing.TB) {
	t.Helper()
	t.Logf("chaos: %s", r.Summary())
	if r.Unchecked != "" {
		t.Logf("chaos: seed %d: %s", r.Seed, r.Unchecked)
	}
	if len(r.FenceReuse) > 0 {
		t.Errorf("chaos: seed %d: fence reused by several registrations (%d), %d probes misrouted: %v",
			r.Seed, len(r.FenceReuse), len(r.Misrouted), r.FenceReuse[:min(3, len(r.FenceReuse))])
	}
	if testing.Verbose() {
		t.Logf("chaos: outcomes %v", r.Counts)
		t.Logf("chaos: nemesis:\n%s", strings.Join(r.Nemesis, "\n"))
	}
	if len(r.Violations) == 0 {
		return
	}
	t.Errorf("chaos seed %d (replay: ROSTER_CHAOS_SEED=%d): %d violations:\n%s\nnemesis:\n%s",
		r.Seed, r.Seed, len(r.Violations), strings.Join(r.Violations, "\n"), strings.Join(r.Nemesis, "\n"))
}
