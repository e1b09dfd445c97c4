package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Shutdown budgets.
const (
	// httpDrainTimeout bounds waiting for in-flight requests after
	// long-polls and watch streams were told to end.
	httpDrainTimeout = 5 * time.Second
	// leaveTimeout bounds the graceful leave (purge of our names, gossip
	// leave, raft shutdown). A second signal skips it.
	leaveTimeout = 20 * time.Second
)

// opener builds and starts the node behind the API. The returned leave
// function leaves the cluster gracefully and shuts the node down; it is
// called once, with a ctx bounded by leaveTimeout.
type opener func(ctx context.Context, cfg *agentConfig, log hclog.Logger) (be backend, leave func(context.Context) error, err error)

// agentHooks lets tests observe the agent (nil in production).
type agentHooks struct {
	// ready is called with the HTTP API's address once it listens.
	ready func(addr net.Addr)
	// api is called with the API server before it serves.
	api func(*apiServer)
}

// runAgent is `clusternode agent`.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseAgentConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		var f agentFlags
		fs := newAgentFlagSet(&f)
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "usage: clusternode agent [flags]  (each flag also from CLUSTERNODE_<FLAG>, e.g. CLUSTERNODE_RAFT_PORT)")
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "clusternode", Level: cfg.LogLevel, JSONFormat: cfg.LogJSON, Output: stderr,
	})
	if cfg.Dev {
		dir, err := os.MkdirTemp("", "clusternode-dev-")
		if err != nil {
			return fmt.Errorf("-dev: temporary data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
		log.Warn("dev mode: one self-bootstrapped node, data is thrown away on exit", "data_dir", dir)
	}
	mr, err := newMetricsRegistry()
	if err == nil {
		err = mr.installGlobal(ctx)
	}
	if err != nil {
		return err
	}
	return agent(ctx, cfg, log, mr, openNode, agentHooks{})
}

// agent runs the node and the HTTP API until ctx is done (the first
// signal), then shuts down in order: stop answering long-polls and watch
// streams, drain HTTP, leave the cluster. /metrics serves mr, or a fresh
// registry without the go-metrics sink when mr is nil (tests).
func agent(ctx context.Context, cfg *agentConfig, log hclog.Logger, mr *metricsRegistry, open opener, hooks agentHooks) error {
	lim := newLimits(cfg.Security.Limits)
	ln, err := listenHTTP(cfg, lim)
	if err != nil {
		return err
	}
	be, leave, err := open(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("starting node: %w", err)
	}
	metricsHandler, err := serveMetrics(mr, be, log.Named("metrics"), limitsCollector{lim})
	if err != nil {
		ln.Close()
		leaveCtx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		defer cancel()
		return errors.Join(err, leave(leaveCtx))
	}
	stopping, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	api := &apiServer{
		be: be, clients: newClients(be, wallClock{}), log: log.Named("http"),
		metrics: metricsHandler, stopping: stopping,
		acl: cfg.Security.ACLs, limits: lim, browser: cfg.Security.Browser,
	}
	api.clients.maxProcs, api.clients.maxPerOwner = lim.cfg.MaxProcesses, lim.cfg.MaxProcessesPerToken
	if mb, ok := be.(mailboxBounder); ok {
		mb.boundMailboxes(lim.cfg.MailboxLimit)
	}
	if hooks.api != nil {
		hooks.api(api)
	}
	srv := &http.Server{
		Handler:           api.handler(),
		ReadHeaderTimeout: lim.cfg.ReadHeaderTimeout,
		IdleTimeout:       lim.cfg.IdleTimeout,
		// No ReadTimeout or WriteTimeout: they would end long-polls (up to
		// 60 s) and watch streams; limits.bodyDeadline bounds the body and
		// each write instead.
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	warnSecurity(cfg, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	node, inc := be.Self()
	log.Info("agent running", append([]any{"node", node, "incarnation", inc, "http", ln.Addr().String()}, describeNode(cfg)...)...)
	if hooks.ready != nil {
		hooks.ready(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("signal received: leaving the cluster (send another to exit at once)")
	case serveErr = <-served:
		log.Error("HTTP server failed", "error", serveErr)
	}
	return shutdown(srv, stopStreams, leave, log, serveErr)
}

func shutdown(srv *http.Server, stopStreams context.CancelFunc, leave func(context.Context) error, log hclog.Logger, serveErr error) error {
	stopStreams()
	drainCtx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("HTTP drain incomplete", "error", err)
		srv.Close()
	}
	cancel()
	leaveCtx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if err := leave(leaveCtx); err != nil {
		log.Error("leave failed", "error", err)
		return errors.Join(serveErr, fmt.Errorf("leave: %w", err))
	}
	log.Info("left the cluster")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}
