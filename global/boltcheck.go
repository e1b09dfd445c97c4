package global

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	"github.com/boltdb/bolt"
)

// A bolt file is memory-mapped: a page past the end of a truncated file
// faults (SIGBUS) when touched, and a corrupt page makes bolt panic
// ("invalid page type"). Neither may take the node down, so a bolt file is
// checked before raft-boltdb (or raft-wal's meta db) maps it: its meta
// pages must be valid and the file long enough for the pages they count,
// and then every key of every bucket is read once with faults turned into
// panics and recovered, so damage is reported as ErrCorruptDataDir.

// Bolt's on-disk meta page (bolt v1.3.1, format version 2): a 16-byte page
// header, then magic, version, page size, flags (4 bytes each), the root
// bucket (16), freelist page id, high-water page id, txid, checksum (8
// each). The checksum is FNV-64a of the meta fields before it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaOff    = 16
	boltMetaSumLen = 56
	boltMinPages   = 4 // a new bolt file: two meta pages, a freelist, a leaf
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// checkBoltFile reports ErrCorruptDataDir when path exists, is not empty,
// and is not a whole bolt file. A missing or empty file is fine (bolt
// creates it).
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("global: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("global: stat %s: %w", path, err)
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	m0, err0 := readBoltMeta(f, 0)
	ps := int64(os.Getpagesize())
	if err0 == nil {
		ps = int64(m0.pageSize)
	}
	m1, err1 := readBoltMeta(f, ps)
	var m boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return fmt.Errorf("%w: %s (%d bytes) is not a bolt database: %w", ErrCorruptDataDir, path, size, err0)
	case err1 != nil || (err0 == nil && m0.txid >= m1.txid):
		m = m0
	default:
		m = m1
	}
	need := max(int64(m.pgid), boltMinPages) * int64(m.pageSize)
	if size < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, its meta page counts %d pages of %d bytes (%d bytes)",
			ErrCorruptDataDir, path, size, m.pgid, m.pageSize, need)
	}
	return nil
}

func readBoltMeta(r io.ReaderAt, off int64) (boltMeta, error) {
	var b [boltMetaOff + boltMetaSumLen + 8]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, fmt.Errorf("meta page at %d: %w", off, err)
	}
	m := b[boltMetaOff:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, fmt.Errorf("meta page at %d: bad magic or version", off)
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:boltMetaSumLen])
	if sum := le.Uint64(m[boltMetaSumLen:]); sum != 0 && sum != h.Sum64() {
		return boltMeta{}, fmt.Errorf("meta page at %d: checksum mismatch", off)
	}
	ps := le.Uint32(m[8:])
	if ps < 512 || ps > 1<<16 || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("meta page at %d: page size %d", off, ps)
	}
	return boltMeta{pageSize: ps, pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

// guardFaults runs fn with memory faults turned into panics, and turns any
// panic into ErrCorruptDataDir naming what. It is for code that reads a
// memory-mapped file (bolt): a damaged page must give an error, not kill
// the process.
func guardFaults(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorruptDataDir, what, r)
		}
	}()
	return fn()
}

// scanBolt reads every key and value of every bucket of the bolt file at
// path (read-only), so a corrupt page is found now, under guardFaults,
// rather than later inside raft.
func scanBolt(path string) error {
	if !nonEmpty(path) {
		return nil
	}
	return guardFaults(path, func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorruptDataDir, path, err)
		}
		defer db.Close()
		err = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
				return b.ForEach(func(_, _ []byte) error { return nil })
			})
		})
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorruptDataDir, path, err)
		}
		return nil
	})
}
