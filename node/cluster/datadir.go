package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
)

// nodeIDFile is the file in the data dir that records which node the Raft
// state belongs to. Raft identifies servers by node id, so a data dir must
// never be reused under another id (its log would vote as someone else).
const nodeIDFile = "node-id"

// claimDataDir records id as the owner of dir on first use and refuses a
// dir that an earlier run recorded under another id. A dir that records
// this id but lost raft.db (global's stable store: the term and vote) is
// refused with global.ErrStateMissing unless rejoin is set; the global
// table checks the rest of its state itself.
func claimDataDir(dir string, id node.NodeID, rejoin bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster: data dir: %w", err)
	}
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if got := node.NodeID(strings.TrimSpace(string(b))); got != id {
			return fmt.Errorf("%w: %s holds node %q, this node is %q", ErrDataDirOwner, dir, got, id)
		}
		if fi, err := os.Stat(filepath.Join(dir, "raft.db")); !rejoin && (err != nil || fi.Size() == 0) {
			return fmt.Errorf("%w: %s was node %q's but has no raft.db: the node would forget its term and vote; "+
				"restore it, or start with RejoinAsNew (-rejoin-as-new) to be caught up as a new member", global.ErrStateMissing, dir, id)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(path, []byte(string(id)+"\n"), 0o600); err != nil {
			return fmt.Errorf("cluster: data dir: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("cluster: data dir: %w", err)
	}
}
