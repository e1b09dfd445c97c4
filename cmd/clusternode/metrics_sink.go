package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsExpiration is how long a go-metrics series (a raft, memberlist or
// global table key with one label set) stays on /metrics after its last
// update. An hour: long enough that a counter of something rare (an
// election, a write timeout) does not vanish and restart from zero between
// scrapes, short enough that the per-peer series of a node that left go.
const metricsExpiration = time.Hour

// metricsRegistry is what GET /metrics serves: a private Prometheus
// registry (never the process-wide default one) holding the Go and process
// collectors, the go-metrics Prometheus sink that raft, memberlist and the
// global table report to, and, once the node is up, the roster_* collector
// (metrics.go).
type metricsRegistry struct {
	reg  *prometheus.Registry
	sink *gmprom.PrometheusSink
}

// newMetricsRegistry builds the registry and its go-metrics sink. The sink
// receives nothing until it is installed with installGlobal (or fed
// directly, in tests).
func newMetricsRegistry() (*metricsRegistry, error) {
	reg := prometheus.NewRegistry()
	err := reg.Register(collectors.NewGoCollector())
	if err == nil {
		err = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err != nil {
		return nil, fmt.Errorf("clusternode: metrics: %w", err)
	}
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{
		Registerer: reg, Expiration: metricsExpiration, Name: "clusternode_go_metrics",
	})
	if err != nil {
		return nil, fmt.Errorf("clusternode: metrics: go-metrics sink: %w", err)
	}
	return &metricsRegistry{reg: reg, sink: sink}, nil
}

// goMetricsConfig is the go-metrics configuration of the daemon. Keys are
// kept as emitted: no service-name prefix, no hostname (Prometheus labels
// the target). The go-metrics runtime sampler is off: the Go and process
// collectors cover it without a goroutine that never stops. Keys under
// "roster." (node's own purge, member and leadership metrics) are blocked:
// the roster_* collector reads the same figures from the node at scrape
// time, as a real histogram, and two sources of one name would make the
// registry reject the scrape's family.
func goMetricsConfig() *metrics.Config {
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableHostnameLabel = false
	cfg.EnableServiceLabel = false
	cfg.EnableRuntimeMetrics = false
	cfg.BlockedPrefixes = []string{"roster."}
	return cfg
}

// installGlobal makes the sink the go-metrics global sink, which is where
// raft (raft_*), memberlist (memberlist_*) and the global table (global_*,
// through cluster.Config.Metrics in open_node.go) report. It also starts the
// sink's cleanup of expired series for when nobody scrapes; it stops when
// ctx is done.
func (m *metricsRegistry) installGlobal(ctx context.Context) error {
	if _, err := metrics.NewGlobal(goMetricsConfig(), m.sink); err != nil {
		return fmt.Errorf("clusternode: metrics: %w", err)
	}
	m.sink.RunBackgroundCleanup(ctx)
	return nil
}

// handler registers the roster_* collector reading be and returns the
// GET /metrics handler. A collector that fails (an invalid metric) is
// logged and the rest is still served, so one bad figure does not blind
// the whole scrape.
func (m *metricsRegistry) handler(be backend, log hclog.Logger, extra ...prometheus.Collector) (http.Handler, error) {
	if err := m.reg.Register(newRosterCollector(be)); err != nil {
		return nil, fmt.Errorf("clusternode: metrics: roster collector: %w", err)
	}
	if gs, ok := be.(groupMetricsSource); ok {
		extra = append(extra, groupsCollector{gs})
	}
	for _, c := range extra {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("clusternode: metrics: %w", err)
		}
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}),
	}), nil
}

// serveMetrics is mr's handler for be, or, when mr is nil (tests), that of
// a fresh registry without a go-metrics sink installed. It fails when mr
// already serves another backend.
func serveMetrics(mr *metricsRegistry, be backend, log hclog.Logger, extra ...prometheus.Collector) (http.Handler, error) {
	if mr == nil {
		var err error
		if mr, err = newMetricsRegistry(); err != nil {
			return nil, err
		}
	}
	return mr.handler(be, log, extra...)
}
