package cluster

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the multi-process tests a directory for the clusternode
// binary (built lazily, once, by procBinary) and removes it at exit. Tests
// that do not start agents never pay for the build.
func TestMain(m *testing.M) {
	os.Exit(procMain(m))
}

func procMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "roster-clusternode-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster tests: temp dir for the clusternode binary:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	procBin.dir = dir
	return m.Run()
}
