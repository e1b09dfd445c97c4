//go:build race

package global

// raceEnabled: boltdb/bolt (under raft-boltdb v1) converts pointers in ways
// the race detector's checkptr rejects, so -race runs use in-memory raft
// stores and skip the disk restart test.
const raceEnabled = true
