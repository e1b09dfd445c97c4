package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/roster-dev/roster/node/cluster"
)

// groupMetricsSource is an optional ability of a backend (nodeBackend has
// it): the cluster-wide process groups' counters. Called at each scrape;
// it must not block.
type groupMetricsSource interface {
	GroupMetrics() cluster.GroupMetrics
}

var _ groupMetricsSource = (*nodeBackend)(nil)

func (b *nodeBackend) GroupMetrics() cluster.GroupMetrics { return b.n.GroupMetrics() }

// groupDescs are the roster_groups* metrics (a dashboard contract, listed
// in README.md).
var groupDescs = struct {
	groups, members, syncBytes, deltaBytes, syncs, rejected, overflows, pubDropped, convergence *prometheus.Desc
}{
	groups:     rosterDesc("groups", "Cluster-wide process groups with members, as this node sees them."),
	members:    rosterDesc("group_members", "Cluster-wide group memberships as this node sees them, by where the process runs.", "where"),
	syncBytes:  rosterDesc("group_sync_bytes_total", "Bytes of full group syncs, by direction.", "direction"),
	deltaBytes: rosterDesc("group_delta_bytes_total", "Bytes of group change batches and heartbeats, by direction.", "direction"),
	syncs:      rosterDesc("group_syncs_total", "Full group syncs completed, by direction.", "direction"),
	rejected:   rosterDesc("group_frames_rejected_total", "Group frames from peers refused (unknown or stale incarnation, gap, bad frame)."),
	overflows:  rosterDesc("group_queue_overflows_total", "Per-peer change queues that overflowed into a full sync."),
	pubDropped: rosterDesc("group_publish_dropped_total", "Published messages lost with a failed frame to a peer."),
	convergence: rosterDesc("group_convergence_seconds",
		"Seconds peers took to accept a full sync once one was needed (peer appeared, healed or diverged), last and max.", "stat"),
}

// groupsCollector reads groupDescs from a backend at each scrape; it is
// registered only for backends with groups.
type groupsCollector struct{ src groupMetricsSource }

var _ prometheus.Collector = groupsCollector{}

func (c groupsCollector) Describe(ch chan<- *prometheus.Desc) {
	d := groupDescs
	for _, desc := range []*prometheus.Desc{d.groups, d.members, d.syncBytes, d.deltaBytes, d.syncs, d.rejected, d.overflows, d.pubDropped, d.convergence} {
		ch <- desc
	}
}

func (c groupsCollector) Collect(ch chan<- prometheus.Metric) {
	d, m := groupDescs, c.src.GroupMetrics()
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(desc, prometheus.GaugeValue, v, labels)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- constMetric(desc, prometheus.CounterValue, float64(v), labels)
	}
	gauge(d.groups, float64(m.Groups))
	gauge(d.members, float64(m.LocalMembers), "local")
	gauge(d.members, float64(m.RemoteMembers), "remote")
	counter(d.syncBytes, m.SyncBytesOut, "out")
	counter(d.syncBytes, m.SyncBytesIn, "in")
	counter(d.deltaBytes, m.DeltaBytesOut, "out")
	counter(d.deltaBytes, m.DeltaBytesIn, "in")
	counter(d.syncs, m.SyncsOut, "out")
	counter(d.syncs, m.SyncsIn, "in")
	counter(d.rejected, m.Rejected)
	counter(d.overflows, m.Overflows)
	counter(d.pubDropped, m.PublishDropped)
	gauge(d.convergence, m.LastConvergence.Seconds(), "last")
	gauge(d.convergence, m.MaxConvergence.Seconds(), "max")
}
