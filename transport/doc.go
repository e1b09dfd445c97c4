// Package transport carries messages, monitor and exit signals, and RPCs
// between Roster nodes: msgpack frames over TCP (optionally TLS), and an
// in-memory twin for tests.
package transport
