package global

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// raft-wal recovers the tail segment after a crash by keeping the frames up
// to the last commit frame whose CRC matches, and treating the rest as a
// torn write: the batch after it never finished its fsync, so raft never
// acknowledged it. That reasoning only holds for the last batch. A damaged
// frame header in the middle of the segment, or a file cut short, would
// make it stop early and silently drop batches that were fsynced and
// acknowledged. checkWALTail refuses those cases before raft-wal opens the
// segment: the tail file must have its preallocated size, and no batch
// with a valid commit CRC may follow the point where recovery stops.
//
// The format read here is raft-wal v0.4.0's segment format version 0 (see
// its segment/format.go): a 32-byte file header, then 8-byte aligned frames
// of an 8-byte header (type, 3 zero bytes, little-endian length; a commit
// frame carries the CRC-32C of everything since the previous commit frame's
// end, or the start of the file, instead of a length).
const (
	walSegmentSize   = 64 << 20 // raft-wal's default segment size; every segment is preallocated to it
	walFileHeaderLen = 32
	walFrameHdrLen   = 8
	walFrameCommit   = 3
	walFrameMaxType  = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkWALTail checks the newest segment file in dir (none: fine).
func checkWALTail(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("global: wal: %w", err)
	}
	var segs []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".wal") {
			segs = append(segs, e.Name())
		}
	}
	if len(segs) == 0 {
		return nil
	}
	slices.Sort(segs) // names start with the zero-padded base index
	path := filepath.Join(dir, segs[len(segs)-1])
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("global: wal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("global: wal: %w", err)
	}
	if fi.Size() < walSegmentSize {
		return fmt.Errorf("%w: wal segment %s is truncated (%d bytes, segments are preallocated to %d)",
			ErrCorruptDataDir, path, fi.Size(), walSegmentSize)
	}
	end, err := walRecoveryPoint(f)
	if err != nil {
		return fmt.Errorf("%w: wal segment %s: %w", ErrCorruptDataDir, path, err)
	}
	if at, ok, err := walCommitAfter(f, end, fi.Size()); err != nil {
		return fmt.Errorf("global: wal segment %s: %w", path, err)
	} else if ok {
		return fmt.Errorf("%w: wal segment %s is damaged at offset %d: a committed batch at offset %d follows, so recovery would drop acknowledged entries",
			ErrCorruptDataDir, path, end, at)
	}
	return nil
}

// walRecoveryPoint walks the frames as raft-wal's recovery does and returns
// the offset just past the last commit frame that recovery keeps (the last
// one whose CRC matches, else the one before it; 0 when none).
func walRecoveryPoint(r io.ReaderAt) (int64, error) {
	var commits []int64
	var crcs []uint32
	var hdr [walFrameHdrLen]byte
	for off := int64(walFileHeaderLen); ; {
		if n, err := r.ReadAt(hdr[:], off); n < walFrameHdrLen {
			if err == io.EOF {
				break
			}
			return 0, err
		}
		typ := hdr[0]
		if typ == 0 || typ > walFrameMaxType || hdr[1]|hdr[2]|hdr[3] != 0 {
			break // zeros (the end) or a damaged header: recovery stops here
		}
		v := binary.LittleEndian.Uint32(hdr[4:])
		if typ == walFrameCommit {
			commits, crcs = append(commits, off), append(crcs, v)
			off += walFrameHdrLen
			continue
		}
		off += walFrameHdrLen + int64(v) + int64((walFrameHdrLen-v%walFrameHdrLen)%walFrameHdrLen)
	}
	k := len(commits) - 1
	if k < 0 {
		return 0, nil
	}
	start := int64(0)
	if k > 0 {
		start = commits[k-1] + walFrameHdrLen
	}
	sum, err := crcRange(r, start, commits[k])
	switch {
	case err != nil:
		return 0, err
	case sum == crcs[k]:
		return commits[k] + walFrameHdrLen, nil
	case k > 0: // the last batch is torn: recovery keeps the one before
		return start, nil
	}
	return 0, nil
}

// walCommitAfter looks past from for an 8-byte aligned commit frame whose
// CRC covers the bytes since the previous candidate (or from): a batch that
// was written whole and fsynced.
func walCommitAfter(r io.ReaderAt, from, size int64) (int64, bool, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	sum, last := uint32(0), from // sum covers [start of batch, last)
	for base := from; base < size; base += chunk {
		n, err := r.ReadAt(buf, base)
		if n == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return 0, false, err
		}
		b := buf[:n-n%walFrameHdrLen]
		for i := 0; i+walFrameHdrLen <= len(b); i += walFrameHdrLen {
			if b[i] != walFrameCommit || b[i+1]|b[i+2]|b[i+3] != 0 {
				continue
			}
			at := base + int64(i)
			sum = crc32.Update(sum, castagnoli, b[last-base:i])
			if sum == binary.LittleEndian.Uint32(b[i+4:]) {
				return at, true, nil
			}
			sum, last = 0, at+walFrameHdrLen
		}
		if last < base+int64(len(b)) {
			sum = crc32.Update(sum, castagnoli, b[last-base:])
			last = base + int64(len(b))
		}
	}
	return 0, false, nil
}

func crcRange(r io.ReaderAt, from, to int64) (uint32, error) {
	buf := make([]byte, to-from)
	if _, err := r.ReadAt(buf, from); err != nil {
		return 0, err
	}
	return crc32.Checksum(buf, castagnoli), nil
}
