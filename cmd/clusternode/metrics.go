package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/roster-dev/roster/node"
)

// purgeLatencyKey is the go-metrics sample node emits (seconds, labelled
// by reason) from a dead node's last contact to its names being purged.
// The sink renders it as a histogram with node.PurgeLatencyBuckets.
var purgeLatencyKey = []string{"roster", "purge", "latency_seconds"}

// histogramBuckets maps flattened sample names to histogram bounds.
func histogramBuckets() map[string][]float64 {
	return map[string][]float64{flatten(purgeLatencyKey): node.PurgeLatencyBuckets}
}

// newMetricsSink builds the sink and makes it the go-metrics global sink,
// which is where raft (raft_*), memberlist (memberlist_*) and node
// (roster_*) report. Keys are kept as emitted: no service-name prefix, no
// hostname (Prometheus labels the target). Runtime metrics are on.
func newMetricsSink() (*promSink, error) {
	sink := newPromSink(histogramBuckets())
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableHostnameLabel = false
	cfg.EnableServiceLabel = false
	cfg.ProfileInterval = 10 * time.Second
	if _, err := metrics.NewGlobal(cfg, sink); err != nil {
		return nil, fmt.Errorf("clusternode: metrics: %w", err)
	}
	return sink, nil
}

// metricsHandler serves GET /metrics: the go-metrics sink (raft,
// memberlist, runtime, node's purge latency histogram, leader changes and
// members by state, and the global table's write metrics) followed by the
// node's counters read from the backend at scrape time.
type metricsHandler struct {
	sink *promSink
	be   backend
}

func (m *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if m.sink != nil {
		if _, err := m.sink.WriteTo(w); err != nil {
			return
		}
	}
	var b strings.Builder
	st := m.be.Stats()
	up := 0
	if m.be.Health() == nil {
		up = 1
	}
	for _, mt := range []struct {
		name, typ, help string
		v               float64
	}{
		{"roster_node_healthy", "gauge", "1 when the node serves (in a cluster with a leader).", float64(up)},
		{"roster_processes", "gauge", "Live processes on this node.", float64(st.Processes)},
		{"roster_global_names", "gauge", "Names in this node's replica of the global table.", float64(st.GlobalNames)},
		{"roster_local_names", "gauge", "Unique local names on this node.", float64(st.LocalNames)},
		{"roster_messages_in_total", "counter", "Messages delivered to this node's mailboxes.", float64(st.MessagesIn)},
		{"roster_messages_out_total", "counter", "Messages sent by this node.", float64(st.MessagesOut)},
		{"roster_messages_dropped_total", "counter", "Messages dropped (dead pid, full mailbox, stale fence).", float64(st.MessagesDropped)},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", mt.name, mt.help, mt.name, mt.typ, mt.name, fmtFloat(mt.v))
	}
	_, _ = w.Write([]byte(b.String()))
}
