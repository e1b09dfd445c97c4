package main

import (
	"context"
	"fmt"
	"net"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/roster-dev/roster/node/cluster"
)

// openNode builds and starts a cluster node from the agent's
// configuration, through node/cluster's public API only: cluster.New brings
// the TCP transport, the Raft global table, gossip and bootstrap-expect;
// Start joins the -join seeds (retried by the rejoin loop while they are
// down). The returned leave is cluster.Node.Leave (our names are purged at once, Raft
// leadership is handed over, gossip announces the departure), falling back
// to Shutdown when a step of it fails.
func openNode(ctx context.Context, cfg *agentConfig, log hclog.Logger) (backend, func(context.Context) error, error) {
	n, err := cluster.New(nodeConfig(cfg, log))
	if err != nil {
		return nil, nil, err
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Shutdown(context.Background())
		return nil, nil, err
	}
	leave := func(ctx context.Context) error {
		if err := n.Leave(ctx); err != nil {
			// Still shut down (idempotent); peers purge us when gossip
			// declares us dead.
			log.Warn("graceful leave incomplete", "error", err)
			return n.Shutdown(ctx)
		}
		return nil
	}
	return &nodeBackend{n: n}, leave, nil
}

// nodeConfig maps the agent's flags onto cluster.Config.
func nodeConfig(cfg *agentConfig, log hclog.Logger) cluster.Config {
	cc := cluster.DefaultConfig()
	cc.Key = cfg.Encrypt
	cc.TLSCAFile, cc.TLSCertFile, cc.TLSKeyFile = cfg.NodeTLS.CAFile, cfg.NodeTLS.CertFile, cfg.NodeTLS.KeyFile
	cc.DataDir = cfg.DataDir
	cc.BindAddr = cfg.Bind
	if cfg.Advertise != cfg.Bind {
		// Only when it differs: node advertises AdvertiseAddr with the
		// configured port, which is 0 (not the bound one) in tests.
		cc.AdvertiseAddr = cfg.Advertise
	}
	cc.GossipPort, cc.TransportPort, cc.RaftPort = cfg.GossipPort, cfg.Port, cfg.RaftPort
	cc.Join = cfg.Join
	if cfg.JoinResolver != "" {
		cc.Resolver = dnsResolver(cfg.JoinResolver)
	}
	cc.BootstrapExpect = cfg.BootstrapExpect
	// The global table reports write latencies, batch sizes and forwarded
	// writes (global_forward_batch) to the go-metrics instance that
	// /metrics renders.
	cc.Metrics = metrics.Default()
	cc.RaftLogStore, cc.RejoinAsNew = cfg.RaftLogStore, cfg.RejoinAsNew
	cc.Profile = cluster.ProfileLAN
	if cfg.Profile == "fast" {
		cc.Profile = cluster.ProfileFast
	}
	cc.NodeID = cfg.Node
	cc.Logger = log
	return cc
}

// dnsResolver is a resolver that asks only the DNS server at addr (UDP,
// and TCP for answers too large for a datagram).
func dnsResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// describeNode is logged at start.
func describeNode(cfg *agentConfig) []any {
	return []any{
		"gossip", fmt.Sprintf("%s:%d", cfg.Advertise, cfg.GossipPort),
		"bootstrap_expect", cfg.BootstrapExpect, "join", cfg.Join,
		"profile", cfg.Profile, "encrypted", cfg.Encrypt != nil,
	}
}
