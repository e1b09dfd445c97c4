package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// metricsPrefix is the service name go-metrics puts in front of every key
// (raft's "raft.apply" becomes roster_raft_apply).
const metricsPrefix = "roster"

// purgeLatencyKey is the go-metrics sample node/global emit (in ms, via
// metrics.MeasureSince) from a node's death being detected to its names'
// purge being committed. It is rendered as a histogram.
var purgeLatencyKey = []string{metricsPrefix, "global", "purge_latency"}

// purgeBucketsMS are the purge latency histogram's bounds, milliseconds:
// the fast profile purges in about 1.5 s, lan in about 6–8 s.
var purgeBucketsMS = []float64{100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000}

// newMetricsSink builds the sink and makes it the go-metrics global sink,
// which is where raft and memberlist report. Runtime metrics are on;
// hostname prefixes are off (Prometheus labels the target instead).
func newMetricsSink() (*promSink, error) {
	sink := newPromSink(map[string][]float64{flatten(purgeLatencyKey): purgeBucketsMS})
	cfg := metrics.DefaultConfig(metricsPrefix)
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
// memberlist, runtime, purge latency) followed by the node's counters read
// from the backend at scrape time.
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
		{"roster_forwarded_writes_total", "counter", "Global table writes forwarded to the leader.", float64(st.ForwardedWrites)},
		{"roster_leader_changes_total", "counter", "Raft leader changes seen by this node.", float64(st.LeaderChanges)},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", mt.name, mt.help, mt.name, mt.typ, mt.name, fmtFloat(mt.v))
	}
	_, _ = w.Write([]byte(b.String()))
}
