//go:build !race

package cluster

// inmemUnderRace: without -race, nodes keep Raft state in their data dir
// (raft-boltdb) and a restart recovers it from disk.
const inmemUnderRace = false
