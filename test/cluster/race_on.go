//go:build race

package cluster

// inmemUnderRace: boltdb/bolt (under raft-boltdb v1) converts pointers in
// ways the race detector's checkptr rejects (a fatal error), so under
// -race the harness keeps Raft state in memory: a restarted node comes
// back empty and catches up from the leader (see Restart).
const inmemUnderRace = true
