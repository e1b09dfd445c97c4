package node

import (
	"os/exec"
	"strings"
	"testing"
)

// The runtime knows nothing of Raft or gossip: its import graph holds
// neither the global table, nor membership, nor the clustered node, nor
// raft or memberlist. (They reach the runtime through GlobalResolver,
// PeerObserver and NodeDown.)
func TestRuntimeImportsNoCluster(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/roster-dev/roster/global",
		"github.com/roster-dev/roster/node/membership",
		"github.com/roster-dev/roster/node/cluster",
		"github.com/hashicorp/raft",
		"github.com/hashicorp/memberlist",
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") || strings.HasPrefix(d, f+"-") {
				t.Errorf("package node depends on %s", d)
			}
		}
	}
}
