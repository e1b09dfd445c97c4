package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/global"
)

func TestClaimDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := claimDataDir(dir, "n1", false); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := claimDataDir(dir, "n2", false); !errors.Is(err, ErrDataDirOwner) {
		t.Fatalf("another id: %v", err)
	}
	// n1's identity without its raft.db: the term and vote are lost.
	if err := claimDataDir(dir, "n1", false); !errors.Is(err, global.ErrStateMissing) {
		t.Fatalf("identity without raft.db: %v, want ErrStateMissing", err)
	}
	if err := claimDataDir(dir, "n1", true); err != nil {
		t.Fatalf("rejoin as new: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raft.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := claimDataDir(dir, "n1", false); err != nil {
		t.Fatalf("identity with raft.db: %v", err)
	}
}
