package main

import (
	"fmt"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/node/membership"
	"github.com/roster-dev/roster/transport"
)

// nodeStats are the figures a backend over a real node adds to stats for
// /metrics.
type nodeStats struct {
	// GroupMembers counts (key, pid) memberships of the node's
	// duplicate-key groups.
	GroupMembers int
	// Cluster is the node's cluster statistics and Transport its
	// transport's counters; valid when Clustered.
	Cluster   cluster.ClusterStats
	Transport transport.Stats
	Clustered bool
}

// nodeStatsSource is an optional ability of a backend, found by type
// assertion: nodeBackend has it, the tests' fake backend does not (a test
// wraps it). The roster_* collector calls nodeStats at each scrape, from
// the scraping request's goroutine; it must not block.
type nodeStatsSource interface {
	nodeStats() nodeStats
}

var _ nodeStatsSource = (*nodeBackend)(nil)

func (b *nodeBackend) nodeStats() nodeStats {
	ns := nodeStats{GroupMembers: b.n.Groups().Count()}
	if cs, err := b.n.Status(); err == nil {
		ns.Cluster, ns.Clustered = cs.Stats, true
		ns.Transport = b.n.TransportStats()
	}
	return ns
}

// The known member states and purge reasons are always reported, at 0
// when none, so that a dashboard sees the series before the first purge
// and a state emptying shows as 0 rather than as a vanished series.
var (
	memberStates = []string{
		string(membership.StateAlive), string(membership.StateSuspect),
		string(membership.StateDead), string(membership.StateLeft),
	}
	purgeReasons = []string{
		string(global.ReasonNodeDown), string(global.ReasonNodeLeft), string(global.ReasonRestart),
	}
)

// rosterDescs are the roster_* metrics. Their names and labels are a
// contract with dashboards: README.md lists them; do not rename.
var rosterDescs = struct {
	healthy, processes, globalNames, localNames, groupMembers         *prometheus.Desc
	msgsIn, msgsOut, msgsDropped                                      *prometheus.Desc
	leader, leaderChanges, members, purges, purgedNames, purgeLatency *prometheus.Desc
	exitUnregisters, namesLost                                        *prometheus.Desc
	acceptErrors, handshakesEvicted, handshakesRefused                *prometheus.Desc
}{
	healthy:      rosterDesc("node_healthy", "1 when the node serves (in a cluster with a known leader, its transport accepting connections), else 0."),
	processes:    rosterDesc("processes", "Live processes on this node."),
	globalNames:  rosterDesc("global_names", "Names in this node's replica of the cluster-wide name table."),
	localNames:   rosterDesc("local_names", "Unique names in this node's local registry."),
	groupMembers: rosterDesc("local_group_members", "Memberships (key, pid) in this node's duplicate-key groups."),
	msgsIn:       rosterDesc("messages_in_total", "Messages put into this node's mailboxes (local and remote senders)."),
	msgsOut:      rosterDesc("messages_out_total", "Messages handed to the transport for other nodes."),
	msgsDropped: rosterDesc("messages_dropped_total",
		"Messages discarded: dead or stale receiver, full mailbox, exit with a non-empty mailbox, "+
			"unregistered type or undecodable body from a peer, or dropped by the transport (connection lost, peer unreachable)."),
	leader:        rosterDesc("raft_leader", "1 when this node is the Raft leader, else 0."),
	leaderChanges: rosterDesc("leader_changes_total", "Times this node gained or lost Raft leadership."),
	members:       rosterDesc("members", "Cluster members by gossip state, as this node sees them (itself included).", "state"),
	purges: rosterDesc("purges_total",
		"Purges of a gone node's global names run by this node (as leader), by reason.", "reason"),
	purgedNames: rosterDesc("purged_names_total", "Global names removed by those purges."),
	purgeLatency: rosterDesc("purge_latency_seconds",
		"Seconds from the last contact with a gone node to its names being purged."),
	exitUnregisters: rosterDesc("exit_unregisters_total", "Global names removed because their local process exited."),
	namesLost:       rosterDesc("names_lost_total", "name_lost signals sent to local processes whose global name was taken away."),
	acceptErrors: rosterDesc("transport_accept_errors_total",
		"Failed Accepts on the transport listener (EMFILE...); each is followed by a backoff, and health is unhealthy until one succeeds."),
	handshakesEvicted: rosterDesc("transport_handshakes_evicted_total",
		"Pending inbound transport handshakes closed to make room for newer ones (a flood of idle connections)."),
	handshakesRefused: rosterDesc("transport_handshakes_refused_total",
		"Inbound transport handshakes that failed: wrong key, version or cluster, timeout or eviction."),
}

func rosterDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("roster_"+name, help, labels, nil)
}

// rosterCollector reads the roster_* metrics from a backend at each
// scrape (Stats, Health and, for a real node, nodeStats). It keeps no
// state of its own; Collect may run from several scrapes at once.
type rosterCollector struct {
	be backend
}

var _ prometheus.Collector = (*rosterCollector)(nil)

func newRosterCollector(be backend) *rosterCollector { return &rosterCollector{be: be} }

// Describe sends every roster_* descriptor, so that the registry rejects a
// collector whose names collide with ours.
func (c *rosterCollector) Describe(ch chan<- *prometheus.Desc) {
	d := rosterDescs
	for _, desc := range []*prometheus.Desc{
		d.healthy, d.processes, d.globalNames, d.localNames, d.groupMembers, d.msgsIn, d.msgsOut, d.msgsDropped,
		d.leader, d.leaderChanges, d.members, d.purges, d.purgedNames, d.purgeLatency, d.exitUnregisters, d.namesLost,
		d.acceptErrors, d.handshakesEvicted, d.handshakesRefused,
	} {
		ch <- desc
	}
}

// Collect sends the node's figures, and its cluster figures when it is
// clustered.
func (c *rosterCollector) Collect(ch chan<- prometheus.Metric) {
	d, st := rosterDescs, c.be.Stats()
	healthy := 0.0
	if c.be.Health() == nil {
		healthy = 1
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(desc, prometheus.GaugeValue, v, labels)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- constMetric(desc, prometheus.CounterValue, float64(v), labels)
	}
	gauge(d.healthy, healthy)
	gauge(d.processes, float64(st.Processes))
	gauge(d.globalNames, float64(st.GlobalNames))
	gauge(d.localNames, float64(st.LocalNames))
	counter(d.msgsIn, st.MessagesIn)
	counter(d.msgsOut, st.MessagesOut)
	counter(d.msgsDropped, st.MessagesDropped)
	src, ok := c.be.(nodeStatsSource)
	if !ok {
		return
	}
	ns := src.nodeStats()
	gauge(d.groupMembers, float64(ns.GroupMembers))
	if !ns.Clustered {
		return
	}
	cs := ns.Cluster
	gauge(d.leader, boolValue(cs.IsLeader))
	counter(d.leaderChanges, cs.LeaderChanges)
	for _, state := range withKnown(memberStates, cs.MembersByState) {
		gauge(d.members, float64(cs.MembersByState[state]), state)
	}
	for _, reason := range withKnown(purgeReasons, cs.PurgesByReason) {
		counter(d.purges, cs.PurgesByReason[reason], reason)
	}
	counter(d.purgedNames, cs.NamesPurged)
	ch <- purgeLatencyHistogram(cs)
	counter(d.exitUnregisters, cs.ExitUnregisters)
	counter(d.namesLost, cs.NamesLostNotified)
	ts := ns.Transport
	counter(d.acceptErrors, ts.AcceptErrors)
	counter(d.handshakesEvicted, ts.HandshakesEvicted)
	counter(d.handshakesRefused, ts.HandshakesRefused)
}

// constMetric is prometheus.MustNewConstMetric without the panic: a label
// value that is not valid UTF-8 gives an invalid metric, which the handler
// logs and skips.
func constMetric(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// purgeLatencyHistogram turns node's per-bucket purge counts (one per
// cluster.PurgeLatencyBuckets bound, plus one over the largest) into a
// Prometheus histogram. Counts of another length (a node built with other
// buckets) give an invalid metric, which the handler logs and skips.
func purgeLatencyHistogram(cs cluster.ClusterStats) prometheus.Metric {
	desc, bounds := rosterDescs.purgeLatency, cluster.PurgeLatencyBuckets
	if len(cs.PurgeLatency) != len(bounds)+1 {
		return prometheus.NewInvalidMetric(desc, fmt.Errorf(
			"clusternode: purge latency: %d bucket counts for %d bounds", len(cs.PurgeLatency), len(bounds)))
	}
	cumulative := make(map[float64]uint64, len(bounds))
	var total uint64
	for i, bound := range bounds {
		total += cs.PurgeLatency[i]
		cumulative[bound] = total
	}
	total += cs.PurgeLatency[len(bounds)]
	h, err := prometheus.NewConstHistogram(desc, total, cs.PurgeLatencySum.Seconds(), cumulative)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return h
}

// withKnown returns the known keys and the keys of m, sorted, once each.
func withKnown[V any](known []string, m map[string]V) []string {
	seen := make(map[string]bool, len(known)+len(m))
	keys := make([]string, 0, len(known)+len(m))
	for _, k := range known {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for k := range m {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
