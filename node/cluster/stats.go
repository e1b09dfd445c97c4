package cluster

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/node/membership"
)

// PurgeLatencyBuckets are the upper bounds, in seconds, of the purge
// latency histogram in ClusterStats.
var PurgeLatencyBuckets = []float64{0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60}

// ClusterStats is what operators ask of a cluster node: purges and their
// latency (from last contact with the node to its names being gone),
// members by gossip state, and leadership changes.
type ClusterStats struct {
	PurgesByReason map[string]uint64
	NamesPurged    uint64
	// PurgeLatency counts purges per PurgeLatencyBuckets bucket (the last
	// element counts those over the largest bound).
	PurgeLatency      []uint64
	PurgeLatencySum   time.Duration
	LastPurgeLatency  time.Duration
	MembersByState    map[string]int
	LeaderChanges     uint64
	IsLeader          bool
	ExitUnregisters   uint64 // global names removed because their process exited
	NamesLostNotified uint64 // name_lost signals sent to local processes
	SingletonStarts   uint64 // singleton instances started on this node
	SingletonOverruns uint64 // instances that did not return within their stop budget
}

type clusterStats struct {
	sink *metrics.Metrics

	leaderChanges atomic.Uint64
	isLeader      atomic.Bool
	exitUnregs    atomic.Uint64
	lost          atomic.Uint64

	singletonStarts   atomic.Uint64
	singletonOverruns atomic.Uint64

	mu      sync.Mutex
	purges  map[string]uint64
	purged  uint64
	buckets []uint64
	sum     time.Duration
	last    time.Duration
	members map[string]int
}

// newClusterStats reports to sink (nil: go-metrics' global instance, as
// it is at each report).
func newClusterStats(sink *metrics.Metrics) *clusterStats {
	return &clusterStats{sink: sink, purges: map[string]uint64{}, buckets: make([]uint64, len(PurgeLatencyBuckets)+1),
		members: map[string]int{}}
}

func (s *clusterStats) leadershipChanged(leader bool) {
	s.leaderChanges.Add(1)
	s.isLeader.Store(leader)
	s.metrics().IncrCounter([]string{"roster", "leader", "changes"}, 1)
}

func (s *clusterStats) controllerMetrics() controllerMetrics {
	return controllerMetrics{
		Purged: func(why global.Reason, names int, since time.Duration) {
			i := sort.SearchFloat64s(PurgeLatencyBuckets, since.Seconds())
			s.mu.Lock()
			s.purges[string(why)]++
			s.purged += uint64(names)
			s.buckets[i]++
			s.sum += since
			s.last = since
			s.mu.Unlock()
			labels := []metrics.Label{{Name: "reason", Value: string(why)}}
			s.metrics().IncrCounterWithLabels([]string{"roster", "purge", "count"}, 1, labels)
			s.metrics().IncrCounterWithLabels([]string{"roster", "purge", "names"}, float32(names), labels)
			s.metrics().AddSampleWithLabels([]string{"roster", "purge", "latency_seconds"}, float32(since.Seconds()), labels)
		},
		Members: func(by map[membership.State]int) {
			s.mu.Lock()
			defer s.mu.Unlock()
			clear(s.members)
			for st, n := range by {
				s.members[string(st)] = n
				s.metrics().SetGaugeWithLabels([]string{"roster", "members"}, float32(n),
					[]metrics.Label{{Name: "state", Value: string(st)}})
			}
		},
	}
}

func (s *clusterStats) snapshot() ClusterStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ClusterStats{
		PurgesByReason: make(map[string]uint64, len(s.purges)), NamesPurged: s.purged,
		PurgeLatency: append([]uint64(nil), s.buckets...), PurgeLatencySum: s.sum, LastPurgeLatency: s.last,
		MembersByState: make(map[string]int, len(s.members)),
		LeaderChanges:  s.leaderChanges.Load(), IsLeader: s.isLeader.Load(),
		ExitUnregisters: s.exitUnregs.Load(), NamesLostNotified: s.lost.Load(),
		SingletonStarts: s.singletonStarts.Load(), SingletonOverruns: s.singletonOverruns.Load(),
	}
	for k, v := range s.purges {
		out.PurgesByReason[k] = v
	}
	for k, v := range s.members {
		out.MembersByState[k] = v
	}
	return out
}

// metrics is where the cluster's measurements go.
func (s *clusterStats) metrics() *metrics.Metrics {
	if s.sink != nil {
		return s.sink
	}
	return metrics.Default()
}
