package global

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

// stores is raft's storage: a LogCache over raft-boltdb (or in-memory
// stores), and a file (or in-memory) snapshot store.
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	closer io.Closer // the bolt file; nil in memory
}

func openStores(c *Config, logger hclog.Logger) (*stores, error) {
	if c.InmemStore {
		mem := raft.NewInmemStore()
		cache, err := raft.NewLogCache(c.LogCacheSize, mem)
		if err != nil {
			return nil, fmt.Errorf("global: log cache: %w", err)
		}
		return &stores{logs: cache, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("global: data dir: %w", err)
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(c.DataDir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("global: open raft.db: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(c.DataDir, c.SnapshotRetain, logger.Named("snapshot"))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("global: snapshot store: %w", err), bolt.Close())
	}
	cache, err := raft.NewLogCache(c.LogCacheSize, bolt)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("global: log cache: %w", err), bolt.Close())
	}
	return &stores{logs: cache, stable: bolt, snaps: snaps, closer: bolt}, nil
}

func (s *stores) close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// newRaftTransport builds raft's network transport: over c.StreamLayer when
// set, else TCP on RaftBind.
func newRaftTransport(c *Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	const maxPool, timeout = 3, 10 * time.Second
	if c.StreamLayer != nil {
		return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: c.StreamLayer, MaxPool: maxPool, Timeout: timeout, Logger: logger,
		}), nil
	}
	var adv net.Addr
	if c.RaftAdvertise != "" {
		a, err := net.ResolveTCPAddr("tcp", c.RaftAdvertise)
		if err != nil {
			return nil, fmt.Errorf("%w: RaftAdvertise: %w", ErrInvalidConfig, err)
		}
		adv = a
	}
	t, err := raft.NewTCPTransportWithLogger(c.RaftBind, adv, maxPool, timeout, logger)
	if err != nil {
		return nil, fmt.Errorf("global: raft transport on %s: %w", c.RaftBind, err)
	}
	return t, nil
}
