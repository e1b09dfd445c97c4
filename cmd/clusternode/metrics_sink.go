package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"

	metrics "github.com/hashicorp/go-metrics"
)

// promSink is a go-metrics sink that keeps the latest value of every gauge,
// the running total of every counter and a count/sum (or histogram
// buckets) of every sample, and renders them in the Prometheus text format.
// raft and memberlist report through go-metrics, so installing this sink as
// the go-metrics global sink puts their metrics on /metrics.
//
// It stands in for github.com/hashicorp/go-metrics/prometheus, whose
// client_golang dependencies are not pinned in go.sum (see the report).
//
// All methods are safe for concurrent use; none blocks beyond a mutex.
type promSink struct {
	mu      sync.Mutex
	series  map[string]*series
	buckets map[string][]float64 // flattened sample name → histogram bounds
}

var _ metrics.MetricSink = (*promSink)(nil)

type seriesKind int

const (
	kindGauge seriesKind = iota
	kindCounter
	kindSummary
	kindHistogram
)

// series is one metric name with one label set.
type series struct {
	name   string
	labels string // rendered {a="b",...} or ""
	kind   seriesKind
	value  float64   // gauge value or counter total
	count  uint64    // samples
	sum    float64   // samples
	bounds []float64 // histogram upper bounds
	counts []uint64  // histogram per-bucket counts (not cumulative)
}

// newPromSink returns an empty sink. buckets maps flattened sample names
// (e.g. "roster_global_purge") to histogram upper bounds, in the sample's
// unit (go-metrics timers are milliseconds).
func newPromSink(buckets map[string][]float64) *promSink {
	return &promSink{series: make(map[string]*series), buckets: buckets}
}

func (s *promSink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }
func (s *promSink) SetGaugeWithLabels(key []string, val float32, labels []metrics.Label) {
	s.SetPrecisionGaugeWithLabels(key, float64(val), labels)
}
func (s *promSink) SetPrecisionGauge(key []string, val float64) {
	s.SetPrecisionGaugeWithLabels(key, val, nil)
}
func (s *promSink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []metrics.Label) {
	s.mu.Lock()
	s.get(key, labels, kindGauge).value = val
	s.mu.Unlock()
}

// EmitKey is treated as a gauge.
func (s *promSink) EmitKey(key []string, val float32) { s.SetGauge(key, val) }

func (s *promSink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }
func (s *promSink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	s.mu.Lock()
	s.get(key, labels, kindCounter).value += float64(val)
	s.mu.Unlock()
}

func (s *promSink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }
func (s *promSink) AddSampleWithLabels(key []string, val float32, labels []metrics.Label) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := kindSummary
	if _, ok := s.buckets[flatten(key)]; ok {
		kind = kindHistogram
	}
	sr := s.get(key, labels, kind)
	v := float64(val)
	sr.count++
	sr.sum += v
	for i, b := range sr.bounds {
		if v <= b {
			sr.counts[i]++
			break
		}
	}
}

// get finds or creates a series. Called with mu held.
func (s *promSink) get(key []string, labels []metrics.Label, kind seriesKind) *series {
	name, lbl := flatten(key), renderLabels(labels)
	id := name + lbl
	sr := s.series[id]
	if sr == nil || sr.kind != kind {
		sr = &series{name: name, labels: lbl, kind: kind}
		if kind == kindHistogram {
			sr.bounds = s.buckets[name]
			sr.counts = make([]uint64, len(sr.bounds))
		}
		s.series[id] = sr
	}
	return sr
}

// WriteTo renders every series in the Prometheus text format, sorted by
// name, one # TYPE line per name.
func (s *promSink) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	s.mu.Lock()
	all := make([]*series, 0, len(s.series))
	for _, sr := range s.series {
		all = append(all, sr)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].name != all[j].name {
			return all[i].name < all[j].name
		}
		return all[i].labels < all[j].labels
	})
	last := ""
	for _, sr := range all {
		if sr.name != last {
			fmt.Fprintf(&b, "# TYPE %s %s\n", sr.name, [...]string{"gauge", "counter", "summary", "histogram"}[sr.kind])
			last = sr.name
		}
		sr.render(&b)
	}
	s.mu.Unlock()
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (sr *series) render(b *strings.Builder) {
	switch sr.kind {
	case kindGauge, kindCounter:
		fmt.Fprintf(b, "%s%s %s\n", sr.name, sr.labels, fmtFloat(sr.value))
	case kindSummary:
		fmt.Fprintf(b, "%s_sum%s %s\n%s_count%s %d\n", sr.name, sr.labels, fmtFloat(sr.sum), sr.name, sr.labels, sr.count)
	case kindHistogram:
		var cum uint64
		for i, bound := range sr.bounds {
			cum += sr.counts[i]
			fmt.Fprintf(b, "%s_bucket%s %d\n", sr.name, withLabel(sr.labels, "le", fmtFloat(bound)), cum)
		}
		fmt.Fprintf(b, "%s_bucket%s %d\n", sr.name, withLabel(sr.labels, "le", "+Inf"), sr.count)
		fmt.Fprintf(b, "%s_sum%s %s\n%s_count%s %d\n", sr.name, sr.labels, fmtFloat(sr.sum), sr.name, sr.labels, sr.count)
	}
}

// flatten joins a go-metrics key into a Prometheus metric name.
func flatten(key []string) string {
	return sanitize(strings.Join(key, "_"), false)
}

// sanitize maps every byte outside [a-zA-Z0-9_] (and ':' in names) to '_'.
func sanitize(s string, label bool) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9') || (!label && c == ':')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// labelEscaper escapes a label value as the text format wants.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func renderLabels(labels []metrics.Label) string {
	if len(labels) == 0 {
		return ""
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = sanitize(l.Name, true) + `="` + labelEscaper.Replace(l.Value) + `"`
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func withLabel(labels, name, value string) string {
	l := name + `="` + labelEscaper.Replace(value) + `"`
	if labels == "" {
		return "{" + l + "}"
	}
	return labels[:len(labels)-1] + "," + l + "}"
}

func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return fmt.Sprintf("%g", v)
}
