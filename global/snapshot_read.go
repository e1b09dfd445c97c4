package global

import (
	"bufio"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// maxSnapItems bounds every count in a snapshot header, so a corrupt header
// cannot make Restore loop for ever.
const maxSnapItems = 1 << 30

// readSnapshot fills an empty f from a stream written by fsmSnapshot.write.
func (f *fsm) readSnapshot(r io.Reader) error {
	dec := msgpack.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var hdr snapHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if hdr.Magic != snapMagic || hdr.Version != snapVersion {
		return fmt.Errorf("header: magic %q version %d", hdr.Magic, hdr.Version)
	}
	for _, n := range []int{hdr.Names, hdr.Purged, hdr.Dedup, hdr.Events} {
		if n < 0 || n > maxSnapItems {
			return fmt.Errorf("header: count %d out of range", n)
		}
	}
	if err := f.readNames(dec, hdr.Names); err != nil {
		return err
	}
	if err := f.readTables(dec, hdr); err != nil {
		return err
	}
	for i := 0; i < hdr.Events; i++ {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		f.ring.add(e)
	}
	var tr snapTrailer
	if err := dec.Decode(&tr); err != nil || tr.Magic != snapEnd {
		return fmt.Errorf("truncated: missing trailer (%v)", err)
	}
	f.ring.compacted = max(f.ring.compacted, hdr.Compacted)
	f.applied.Store(hdr.Applied)
	return nil
}

func (f *fsm) readNames(dec *msgpack.Decoder, n int) error {
	for i := 0; i < n; i++ {
		var reg Registration
		if err := dec.Decode(&reg); err != nil {
			return fmt.Errorf("name %d: %w", i, err)
		}
		if err := ValidateName(reg.Name); err != nil {
			return fmt.Errorf("name %d: %w", i, err)
		}
		if err := validateOwner(reg.Owner); err != nil {
			return fmt.Errorf("name %q: %w", reg.Name, err)
		}
		if _, dup := f.names[reg.Name]; dup {
			return fmt.Errorf("name %q appears twice", reg.Name)
		}
		f.names[reg.Name] = reg
		f.index(reg)
	}
	return nil
}

func (f *fsm) readTables(dec *msgpack.Decoder, hdr snapHeader) error {
	for i := 0; i < hdr.Purged; i++ {
		var p purgedEntry
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("purged %d: %w", i, err)
		}
		f.markPurged(p.Inc, p.Index)
	}
	for i := 0; i < hdr.Dedup; i++ {
		var d dedupEntry
		if err := dec.Decode(&d); err != nil {
			return fmt.Errorf("dedup %d: %w", i, err)
		}
		f.remember(d.ID, d.Result)
	}
	return nil
}
