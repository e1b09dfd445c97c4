package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/roster-dev/roster/node/cluster"
	"github.com/roster-dev/roster/transport"
)

// clusterFake is the fake backend with the nodeStats ability of a real
// clustered node; the test changes its figures between scrapes.
type clusterFake struct {
	*fakeBackend
	mu sync.Mutex
	ns nodeStats
}

func (f *clusterFake) nodeStats() nodeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ns
}

func (f *clusterFake) update(fn func(*nodeStats)) {
	f.mu.Lock()
	fn(&f.ns)
	f.mu.Unlock()
}

// metricsServer serves /metrics of a fresh registry over be.
func metricsServer(t *testing.T, be backend) (*metricsRegistry, string) {
	t.Helper()
	mr, err := newMetricsRegistry()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mr.handler(be, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return mr, srv.URL
}

// newClusterFake is a fake clustered node with one process, two group
// memberships, three purges (0.1 s, 0.4 s and one over 60 s) and three
// members.
func newClusterFake(t *testing.T) *clusterFake {
	t.Helper()
	fake := newFakeBackend()
	t.Cleanup(fake.close)
	if _, err := fake.Spawn(func(ctx context.Context, _ mailbox) error { <-ctx.Done(); return nil }); err != nil {
		t.Fatal(err)
	}
	return &clusterFake{fakeBackend: fake, ns: nodeStats{GroupMembers: 2, Clustered: true, Cluster: cluster.ClusterStats{
		PurgesByReason: map[string]uint64{"node_down": 3}, NamesPurged: 7,
		PurgeLatency:    []uint64{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		PurgeLatencySum: 500*time.Second + 500*time.Millisecond,
		MembersByState:  map[string]int{"alive": 2, "dead": 1}, LeaderChanges: 1, IsLeader: true,
	}, Transport: transport.Stats{AcceptErrors: 4, HandshakesEvicted: 5, HandshakesRefused: 6}}}
}

// feedSink reports to the sink as raft, memberlist, the global table and
// node do. node's own keys go through the daemon's go-metrics
// configuration, which keeps them off the sink (they would clash with the
// roster_* collector's).
func feedSink(t *testing.T, sink metrics.MetricSink) {
	t.Helper()
	sink.IncrCounterWithLabels([]string{"raft", "apply"}, 3, []metrics.Label{{Name: "peer", Value: `a"b`}})
	sink.SetGauge([]string{"memberlist", "health", "score"}, 0)
	sink.AddSample([]string{"raft", "commitTime"}, 1.5)
	gm, err := metrics.New(goMetricsConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	gm.IncrCounter([]string{"roster", "leader", "changes"}, 1)
	gm.AddSampleWithLabels([]string{"roster", "purge", "latency_seconds"}, 0.1, []metrics.Label{{Name: "reason", Value: "node_down"}})
	gm.IncrCounter([]string{"global", "write", "unknown"}, 1)
}

func TestMetrics(t *testing.T) {
	cf := newClusterFake(t)
	mr, url := metricsServer(t, cf)
	feedSink(t, mr.sink)
	fams := scrape(t, url)
	for _, c := range []struct {
		name   string
		typ    dto.MetricType
		labels []string
		want   float64
	}{
		{"raft_apply", dto.MetricType_COUNTER, []string{"peer", `a"b`}, 3},
		{"memberlist_health_score", dto.MetricType_GAUGE, nil, 0},
		{"global_write_unknown", dto.MetricType_COUNTER, nil, 1},
		{"roster_processes", dto.MetricType_GAUGE, nil, 1},
		{"roster_node_healthy", dto.MetricType_GAUGE, nil, 1},
		{"roster_local_group_members", dto.MetricType_GAUGE, nil, 2},
		{"roster_raft_leader", dto.MetricType_GAUGE, nil, 1},
		{"roster_leader_changes_total", dto.MetricType_COUNTER, nil, 1},
		{"roster_members", dto.MetricType_GAUGE, []string{"state", "alive"}, 2},
		{"roster_members", dto.MetricType_GAUGE, []string{"state", "suspect"}, 0},
		{"roster_members", dto.MetricType_GAUGE, []string{"state", "dead"}, 1},
		{"roster_purges_total", dto.MetricType_COUNTER, []string{"reason", "node_down"}, 3},
		{"roster_purges_total", dto.MetricType_COUNTER, []string{"reason", "restart"}, 0},
		{"roster_purged_names_total", dto.MetricType_COUNTER, nil, 7},
		{"roster_messages_dropped_total", dto.MetricType_COUNTER, nil, 0},
		{"roster_transport_accept_errors_total", dto.MetricType_COUNTER, nil, 4},
		{"roster_transport_handshakes_evicted_total", dto.MetricType_COUNTER, nil, 5},
		{"roster_transport_handshakes_refused_total", dto.MetricType_COUNTER, nil, 6},
	} {
		if got, err := sampleValue(fams, c.name, c.typ, c.labels...); err != nil || got != c.want {
			t.Errorf("%s%v = %v (%v), want %v", c.name, c.labels, got, err, c.want)
		}
	}
	if s := fams["raft_commitTime"].GetMetric()[0].GetSummary(); s.GetSampleCount() != 1 || s.GetSampleSum() != 1.5 {
		t.Errorf("raft_commitTime summary %v", s)
	}
	if fams["go_goroutines"] == nil {
		t.Error("no Go collector metrics")
	}
	checkPurgeHistogram(t, fams["roster_purge_latency_seconds"])

	cf.update(func(ns *nodeStats) { ns.Cluster.PurgesByReason = map[string]uint64{"node_down": 4, "restart": 1} })
	fams = scrape(t, url)
	for reason, want := range map[string]float64{"node_down": 4, "restart": 1} {
		if got, err := sampleValue(fams, "roster_purges_total", dto.MetricType_COUNTER, "reason", reason); err != nil || got != want {
			t.Errorf("after more purges: roster_purges_total{reason=%q} = %v (%v), want %v", reason, got, err, want)
		}
	}
}

// checkPurgeHistogram checks the histogram TestMetrics fed: 0.1 s, 0.4 s
// and one over the largest bound.
func checkPurgeHistogram(t *testing.T, fam *dto.MetricFamily) {
	t.Helper()
	if fam.GetType() != dto.MetricType_HISTOGRAM || len(fam.GetMetric()) != 1 {
		t.Fatalf("roster_purge_latency_seconds: %v", fam)
	}
	h := fam.GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 500.5 {
		t.Errorf("count %d sum %v, want 3 and 500.5", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.25: 1, 0.5: 2, 1: 2, 60: 2, math.Inf(1): 3}
	if len(h.GetBucket()) != len(cluster.PurgeLatencyBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(cluster.PurgeLatencyBuckets)+1)
	}
	for _, b := range h.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}

// TestMetricsSkipsAnInvalidFigure: purge counts that do not match the
// buckets are logged and left out; the rest of the scrape is served.
func TestMetricsSkipsAnInvalidFigure(t *testing.T) {
	fake := newFakeBackend()
	t.Cleanup(fake.close)
	cf := &clusterFake{fakeBackend: fake, ns: nodeStats{Clustered: true, Cluster: cluster.ClusterStats{PurgeLatency: []uint64{1}}}}
	_, url := metricsServer(t, cf)
	fams := scrape(t, url)
	if fams["roster_purge_latency_seconds"] != nil {
		t.Errorf("invalid histogram served: %v", fams["roster_purge_latency_seconds"])
	}
	if _, err := sampleValue(fams, "roster_processes", dto.MetricType_GAUGE); err != nil {
		t.Error(err)
	}
}

// TestMetricsRegistryServesOneBackend: a registry holds one roster_*
// collector; a second is an error, not a panic or a doubled scrape.
func TestMetricsRegistryServesOneBackend(t *testing.T) {
	fake := newFakeBackend()
	t.Cleanup(fake.close)
	mr, _ := metricsServer(t, fake)
	var are prometheus.AlreadyRegisteredError
	if _, err := mr.handler(fake, testLogger(t)); !errors.As(err, &are) {
		t.Fatalf("second handler: %v, want AlreadyRegisteredError", err)
	}
}

// scrape GETs a /metrics URL and parses it as the Prometheus text format
// (which fails on a malformed exposition).
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	if !strings.HasSuffix(url, "/metrics") {
		url += "/metrics"
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not Prometheus text: %v", url, err)
	}
	return fams
}

// sampleValue returns the value of the gauge or counter name with the
// given label pairs (name, value, ...), checking its type.
func sampleValue(fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels ...string) (float64, error) {
	fam := fams[name]
	if fam == nil {
		return 0, fmt.Errorf("no family %s (have %s)", name, familyNames(fams))
	}
	if fam.GetType() != typ {
		return 0, fmt.Errorf("%s is a %v, want %v", name, fam.GetType(), typ)
	}
	for _, m := range fam.GetMetric() {
		if hasLabels(m, labels) {
			if typ == dto.MetricType_COUNTER {
				return m.GetCounter().GetValue(), nil
			}
			return m.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("%s has no series with labels %v", name, labels)
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

func familyNames(fams map[string]*dto.MetricFamily) string {
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// globalMetricsRegistry is a registry whose sink is the go-metrics global
// sink for the rest of the test (only one test at a time may use it);
// the global goes back to a black hole afterwards.
func globalMetricsRegistry(t *testing.T) *metricsRegistry {
	t.Helper()
	mr, err := newMetricsRegistry()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := mr.installGlobal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cfg := goMetricsConfig()
		_, _ = metrics.NewGlobal(cfg, &metrics.BlackholeSink{})
	})
	return mr
}

// checkCounterMoved checks that counter name went up by exactly by
// between two scrapes.
func checkCounterMoved(t *testing.T, before, after map[string]*dto.MetricFamily, name string, by float64) {
	t.Helper()
	v0, err0 := sampleValue(before, name, dto.MetricType_COUNTER)
	v1, err1 := sampleValue(after, name, dto.MetricType_COUNTER)
	if err := errors.Join(err0, err1); err != nil || v1-v0 != by {
		t.Errorf("%s went from %v to %v (%v), want +%v", name, v0, v1, err, by)
	}
}

// BenchmarkMetricsScrape is one GET /metrics over a fake clustered node
// and a fed sink, without the network: gathering (Go and process
// collectors included) and rendering the text format.
func BenchmarkMetricsScrape(b *testing.B) {
	fake := newFakeBackend()
	b.Cleanup(fake.close)
	cf := &clusterFake{fakeBackend: fake, ns: nodeStats{Clustered: true, Cluster: cluster.ClusterStats{
		PurgeLatency: make([]uint64, len(cluster.PurgeLatencyBuckets)+1),
	}}}
	mr, err := newMetricsRegistry()
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		mr.sink.IncrCounter([]string{"raft", "apply", fmt.Sprint(i)}, 1)
	}
	h, err := mr.handler(cf, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
