package cluster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	cnode "github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// GroupViews checks the cluster-wide process groups (default scope): nil
// once every running node's view of every group equals the truth, the
// members each running node holds for itself (the live members of the live
// incarnations), else an error naming the first difference. It also
// fails when any view holds a member of an incarnation that is not the
// one running now (a ghost).
func (c *Cluster) GroupViews() error {
	running := c.Running()
	cur := make(map[transport.NodeID]uint64)
	var truth []string
	for _, i := range running {
		n := c.Node(i)
		cur[n.ID()] = n.Incarnation()
		infos, _ := n.ListGroups("", "", 0)
		for _, gi := range infos {
			for _, m := range n.LocalGroupMembers(gi.Name) {
				truth = append(truth, groupLine(gi.Name, m))
			}
		}
	}
	slices.Sort(truth)
	for _, i := range running {
		n := c.Node(i)
		var view []string
		infos, _ := n.ListGroups("", "", 0)
		for _, gi := range infos {
			for _, m := range n.GroupMembers(gi.Name) {
				if inc, ok := cur[m.PID.Node]; !ok || inc != m.PID.Incarnation {
					return fmt.Errorf("%s holds ghost %s in %q", n.ID(), m.PID, gi.Name)
				}
				view = append(view, groupLine(gi.Name, m))
			}
		}
		slices.Sort(view)
		if !slices.Equal(view, truth) {
			return fmt.Errorf("%s sees %d memberships, truth has %d (%s)", n.ID(), len(view), len(truth), lineDiff(view, truth))
		}
	}
	return nil
}

func groupLine(group string, m cnode.GroupMember) string {
	return fmt.Sprintf("%s %s x%d %q", group, m.PID, m.Count, m.Meta)
}

func lineDiff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return "missing " + want[i]
		case i >= len(want):
			return "extra " + got[i]
		case got[i] != want[i]:
			return "has " + got[i] + ", want " + want[i]
		}
	}
	return "same"
}

// MeasureGroupConvergence polls GroupViews every 5 ms from healedAt (the
// instant the fault ended) until it passes, and returns how long that took
// after healedAt; it fails after bound with the last difference seen.
func (c *Cluster) MeasureGroupConvergence(healedAt time.Time, bound time.Duration) (time.Duration, error) {
	var last error
	logged := false
	for {
		if last = c.GroupViews(); last == nil {
			return time.Since(healedAt), nil
		}
		if !logged && time.Since(healedAt) > 500*time.Millisecond {
			logged = true
			c.t.Logf("group views still differ 500 ms after the heal: %v", last)
		}
		if time.Since(healedAt) > bound {
			return 0, fmt.Errorf("group views did not converge within %v: %w", bound, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// groupSummary prints convergence times per fault for a log line.
func groupSummary(times map[string][]time.Duration, order []string) string {
	parts := make([]string, 0, len(order))
	for _, k := range order {
		ds := times[k]
		worst := time.Duration(0)
		for _, d := range ds {
			worst = max(worst, d)
		}
		parts = append(parts, fmt.Sprintf("%s: %s (max %v)", k, durs(ds), worst.Round(time.Millisecond)))
	}
	return strings.Join(parts, "; ")
}
