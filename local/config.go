package local

import (
	"fmt"
	"strconv"
)

// Limits.
const (
	// MaxKeyLen is the longest key, meta key or lock key, in bytes. Longer
	// keys are refused with ErrKeyTooLong. 1 KiB is far above any sensible
	// name and keeps a hostile caller from filling memory with one key.
	MaxKeyLen = 1024
	// MaxPartitions is the largest Config.Partitions accepted.
	MaxPartitions = 4096
)

// Kind is the key discipline of a registry.
type Kind uint8

// Kinds, as in Elixir's Registry.
const (
	// Unique: a key has at most one entry. The zero Kind.
	Unique Kind = iota
	// DuplicateByPID: a key may have many entries, from many pids, and one
	// pid may register a key more than once. Partitioned by pid hash, so a
	// pid's entries live in one partition (cheap Keys, Register and exit
	// cleanup) and a key spans all partitions (Lookup, Dispatch visit every
	// partition; Dispatch can run them in parallel).
	DuplicateByPID
	// DuplicateByKey: like DuplicateByPID but partitioned by key hash, so a
	// key lives in one partition (cheap Lookup and Dispatch) and a pid's
	// entries span partitions.
	DuplicateByKey
)

// String returns "unique", "duplicate_by_pid" or "duplicate_by_key".
func (k Kind) String() string {
	switch k {
	case Unique:
		return "unique"
	case DuplicateByPID:
		return "duplicate_by_pid"
	case DuplicateByKey:
		return "duplicate_by_key"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Config configures a Registry. New copies it; later changes to the
// caller's value (or its Listeners slice) have no effect.
type Config[P comparable] struct {
	// Name identifies the registry in events. Optional (default ""), at most
	// MaxKeyLen bytes.
	Name string

	// Keys is the key discipline. Default Unique (the zero value).
	Keys Kind

	// Partitions is the number of shards, each with its own lock. 0 means 1,
	// Elixir's default: one partition is the fastest for a single writer
	// and for whole-table scans. Raise it (e.g. to runtime.GOMAXPROCS(0))
	// when many goroutines write concurrently. At most MaxPartitions.
	Partitions int

	// Owners tracks the liveness of the pids that own entries: a pid must be
	// live to register, and its entries are removed when it exits. If nil,
	// there is no liveness tracking: any pid is accepted and entries go only
	// when unregistered (or when OwnerExited is called by hand).
	Owners Owners[P]

	// Listeners hear every register and unregister, with the cause and the
	// owner's exit reason. Optional; see Listener for the rules. A nil
	// element is refused with ErrNilFunc.
	Listeners []Listener[P]
}

// DefaultConfig returns a unique registry with one partition and no owner
// tracking.
func DefaultConfig[P comparable]() Config[P] {
	return Config[P]{Keys: Unique, Partitions: 1}
}

// Validate reports the first problem with c, wrapping ErrBadConfig (or
// ErrNilFunc for a nil listener).
func (c Config[P]) Validate() error {
	if len(c.Name) > MaxKeyLen {
		return fmt.Errorf("%w: name is %d bytes (max %d)", ErrBadConfig, len(c.Name), MaxKeyLen)
	}
	if c.Keys > DuplicateByKey {
		return fmt.Errorf("%w: unknown key kind %d", ErrBadConfig, c.Keys)
	}
	if c.Partitions < 0 || c.Partitions > MaxPartitions {
		return fmt.Errorf("%w: partitions %d out of range [0, %d]", ErrBadConfig, c.Partitions, MaxPartitions)
	}
	for i, l := range c.Listeners {
		if l == nil {
			return fmt.Errorf("%w: %w: listener %d", ErrBadConfig, ErrNilFunc, i)
		}
	}
	return nil
}
