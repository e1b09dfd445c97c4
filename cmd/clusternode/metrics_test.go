package main

import (
	"io"
	"strings"
	"testing"

	metrics "github.com/hashicorp/go-metrics"
)

func TestMetrics(t *testing.T) {
	a := newTestAPI(t)
	a.spawn("")
	a.sink.IncrCounterWithLabels([]string{"raft", "apply"}, 3, []metrics.Label{{Name: "peer", Value: `a"b`}})
	a.sink.SetGauge([]string{"memberlist", "health", "score"}, 0)
	a.sink.AddSample([]string{"raft", "commitTime"}, 1.5)
	reason := []metrics.Label{{Name: "reason", Value: "node_down"}}
	for _, v := range []float32{0.1, 0.4, 500} {
		a.sink.AddSampleWithLabels(purgeLatencyKey, v, reason)
	}
	resp, err := a.client.Get(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"# TYPE raft_apply counter\n" + `raft_apply{peer="a\"b"} 3`,
		"# TYPE memberlist_health_score gauge\nmemberlist_health_score 0\n",
		"raft_commitTime_sum 1.5\nraft_commitTime_count 1\n",
		"# TYPE roster_purge_latency_seconds histogram\n",
		`roster_purge_latency_seconds_bucket{reason="node_down",le="0.25"} 1`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="0.5"} 2`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="60"} 2`,
		`roster_purge_latency_seconds_bucket{reason="node_down",le="+Inf"} 3`,
		`roster_purge_latency_seconds_count{reason="node_down"} 3`,
		"roster_processes 1\n",
		"roster_node_healthy 1\n",
		"# TYPE roster_messages_dropped_total counter\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q\n%s", want, text)
		}
	}
}
