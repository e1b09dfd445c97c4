package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node"
	"github.com/roster-dev/roster/transport"
)

// errNeedsClusterWiring: a multi-node configuration was asked for, but
// this build has no membership wiring in node yet.
var errNeedsClusterWiring = errors.New("clusternode: -join and -bootstrap-expect > 1 need node's cluster wiring (memberlist, transport), not in this build yet")

// openNode builds the node from the agent's configuration.
//
// TODO(lead): this is a stand-alone wiring of the public node and global
// APIs for a single server (-dev, or -bootstrap-expect 1 without -join):
// a node without transport and a global table that bootstraps itself.
// Replace it with node's cluster config (memberlist, transport, raft,
// bootstrap-expect, graceful leave) when that lands; the backend adapter
// stays.
func openNode(ctx context.Context, cfg *agentConfig, log hclog.Logger) (backend, func(context.Context) error, error) {
	if len(cfg.Join) > 0 || cfg.BootstrapExpect > 1 {
		return nil, nil, errNeedsClusterWiring
	}
	ncfg := node.DefaultConfig()
	ncfg.NodeID = cfg.Node
	ncfg.Logger = log.Named("node")
	n, err := node.New(ncfg)
	if err != nil {
		return nil, nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, nil, err
	}
	b := &nodeBackend{n: n}
	table, err := openTable(cfg, log, &b.leaderChanges)
	if err != nil {
		_ = n.Shutdown(context.Background())
		return nil, nil, err
	}
	b.table = table
	n.SetGlobal(globalLookup{table})
	b.onRegistered = func(pid transport.PID) {
		_ = n.Attach(pid, &unregisterOnExit{table: table, log: log})
	}
	leave := func(ctx context.Context) error {
		// Our names go before raft stops (a graceful exit purges at once).
		if _, err := table.PurgeIncarnation(ctx, n.ID(), n.Incarnation(), global.ReasonNodeLeft); err != nil {
			log.Warn("purging our names on leave", "error", err)
		}
		return errors.Join(n.Shutdown(ctx), table.Shutdown())
	}
	return b, leave, nil
}

// openTable starts the global table and bootstraps it when it has no state.
func openTable(cfg *agentConfig, log hclog.Logger, leaderChanges interface{ Add(uint64) uint64 }) (*global.Table, error) {
	gcfg := global.DefaultConfig()
	if cfg.Profile == "fast" {
		gcfg = global.DefaultLocalConfig()
	}
	gcfg.NodeID = cfg.Node
	gcfg.DataDir = cfg.DataDir
	gcfg.InmemStore = cfg.inmemRaft
	gcfg.RaftBind = net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.RaftPort))
	if cfg.RaftPort != 0 {
		gcfg.RaftAdvertise = net.JoinHostPort(cfg.Advertise, strconv.Itoa(cfg.RaftPort))
	}
	gcfg.Logger = log
	gcfg.OnLeadershipChange = func(bool) { leaderChanges.Add(1) }
	t, err := global.New(gcfg)
	if err != nil {
		return nil, err
	}
	if !t.HasState() {
		if err := t.Bootstrap([]global.Server{{ID: cfg.Node, Address: t.RaftAddr()}}); err != nil {
			_ = t.Shutdown()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	return t, nil
}

// globalLookup adapts *global.Table to node.GlobalNames (local replica).
type globalLookup struct{ t *global.Table }

func (g globalLookup) Lookup(ctx context.Context, name string) (transport.PID, uint64, error) {
	reg, _, err := g.t.Lookup(name)
	if err != nil {
		return transport.PID{}, 0, err
	}
	return reg.Owner, reg.Fence, nil
}

// unregisterOnExit drops a process's global names when it exits.
type unregisterOnExit struct {
	table *global.Table
	log   hclog.Logger
}

// unregisterTimeout bounds the write that drops an exited process's names.
const unregisterTimeout = 10 * time.Second

func (u *unregisterOnExit) OwnerExited(pid transport.PID, reason error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), unregisterTimeout)
		defer cancel()
		if _, err := u.table.UnregisterPID(ctx, pid, global.ReasonProcessExit); err != nil {
			u.log.Warn("dropping names of exited process", "pid", pid, "error", err)
		}
	}()
}
