//go:build race

package main

// raceEnabled: boltdb/bolt (under raft-boltdb v1) trips the race
// detector's checkptr, so -race runs keep raft state in memory.
const raceEnabled = true
