package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// History records operations on the global name table with their call and
// return times (nanoseconds since the history began, monotonic). It is safe
// for concurrent use.
type History struct {
	start time.Time

	mu  sync.Mutex
	ops []porcupine.Operation
}

// NewHistory starts an empty history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the current history time.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// pendingReturn marks an operation whose outcome is unknown: Operations
// gives it the end of the history as its return time, so the checker may
// place it anywhere after its call (applied at some point, or never).
const pendingReturn = -1

// Add records one operation. An output of ResUnknown is recorded as
// possibly applied at any time after call.
func (h *History) Add(client int, in Input, call int64, out Output, ret int64) {
	if out.Result == ResUnknown {
		ret = pendingReturn
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

// Len is the number of operations recorded.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Operations returns a copy of the history with unknown outcomes returning
// at its end.
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := int64(1)
	for _, op := range h.ops {
		end = max(end, op.Call+1, op.Return+1)
	}
	out := make([]porcupine.Operation, len(h.ops))
	copy(out, h.ops)
	for i := range out {
		if out[i].Return == pendingReturn {
			out[i].Return = end
		}
	}
	return out
}

// classify maps a write's error to the model's outcome. Only errors that
// the table promises mean "decided, nothing (else) applied" are definite;
// everything else (timeouts, ErrOutcomeUnknown, shutdown, transport
// errors) is ResUnknown. ok is false for errors raised by the node before
// any write was attempted (not a local live pid, bad name): such calls
// are left out of the history.
//
// global.ErrNoQuorum without global.ErrOutcomeUnknown is definite: the
// table returns it only when no attempt reached a leader that might have
// committed it (every attempt ended as not-leader), see global/write.go.
func classify(err error) (out Output, ok bool) {
	var already *global.AlreadyRegisteredError
	switch {
	case err == nil:
		return Output{Result: ResOK}, true
	case errors.As(err, &already):
		return Output{Result: ResAlready, Owner: already.Owner, Fence: already.Fence}, true
	case errors.Is(err, global.ErrOutcomeUnknown):
		return Output{Result: ResUnknown}, true
	case errors.Is(err, global.ErrNotFound):
		return Output{Result: ResNotFound}, true
	case errors.Is(err, global.ErrNotOwner):
		return Output{Result: ResNotOwner}, true
	case errors.Is(err, global.ErrOwnerGone):
		return Output{Result: ResOwnerGone}, true
	case errors.Is(err, global.ErrNoQuorum), errors.Is(err, node.ErrNoProc), errors.Is(err, node.ErrNotLocal):
		return Output{}, false
	}
	return Output{Result: ResUnknown}, true
}

// CheckResult is the outcome of checking one history.
type CheckResult struct {
	// Result is porcupine's verdict: Ok, Illegal, or Unknown (timed out).
	Result porcupine.CheckResult
	// Ops is how many operations were checked.
	Ops int
	// Artifact is the HTML visualisation written for an Illegal history.
	Artifact string
	// Detail is a readable excerpt of the offending names' histories.
	Detail string
}

// ArtifactDir is where failing histories' visualisations go, relative to
// the package directory (gitignored).
const ArtifactDir = "artifacts"

// CheckLinearizable checks ops against NameModel within timeout. On a
// violation it writes porcupine's visualisation to ArtifactDir/label.html
// and fills Detail with the histories of the names that failed.
func CheckLinearizable(ops []porcupine.Operation, timeout time.Duration, label string) CheckResult {
	model := NameModel()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	cr := CheckResult{Result: res, Ops: len(ops)}
	if res != porcupine.Illegal {
		return cr
	}
	cr.Detail = describeFailures(model, ops)
	if err := os.MkdirAll(ArtifactDir, 0o755); err == nil {
		path := filepath.Join(ArtifactDir, label+".html")
		if err := porcupine.VisualizePath(model, info, path); err == nil {
			cr.Artifact = path
		}
	}
	return cr
}

// describeFailures re-checks each name alone and prints the operations of
// the names that are not linearizable, in call order.
func describeFailures(model porcupine.Model, ops []porcupine.Operation) string {
	var b strings.Builder
	for _, part := range partitionByName(ops) {
		single := model
		single.Partition = nil
		if porcupine.CheckOperations(single, part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		fmt.Fprintf(&b, "name %q is not linearizable (%d ops):\n", part[0].Input.(Input).Name, len(part))
		for _, op := range part {
			fmt.Fprintf(&b, "  [%9.3fms %9.3fms] c%-3d %s\n", float64(op.Call)/1e6, float64(op.Return)/1e6,
				op.ClientId, describeOp(op.Input.(Input), op.Output.(Output)))
		}
	}
	return b.String()
}
