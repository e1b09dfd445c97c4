package local_test

import (
	"regexp"
	"testing"

	"github.com/roster-dev/roster/local"
)

// Every reason is a distinct snake_case word: the same strings appear in
// Go, in the HTTP API and in the SSE stream.
func TestReasonsAreDistinctSnakeCase(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[local.Reason]bool{}
	for _, r := range []local.Reason{local.ReasonRegister, local.ReasonUnregister, local.ReasonUnregisterMatch,
		local.ReasonProcessExit, local.ReasonReRegister, local.ReasonMeta, local.ReasonNodeDown,
		local.ReasonNodeLeft, local.ReasonRestart, local.ReasonConflict, local.ReasonResync} {
		if !snake.MatchString(string(r)) {
			t.Errorf("reason %q is not snake_case", r)
		}
		if seen[r] {
			t.Errorf("reason %q twice", r)
		}
		seen[r] = true
	}
}
