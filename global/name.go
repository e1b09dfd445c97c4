package global

import (
	"fmt"
	"unicode/utf8"

	"github.com/roster-dev/roster/transport"
)

// Limits on what the table stores.
const (
	// MaxNameLen is the longest global name, in bytes.
	MaxNameLen = 255
	// MaxMetaLen is the largest registration metadata value, in bytes. Meta
	// is replicated to every voter and kept in memory: keep it small.
	MaxMetaLen = 1024
	// MaxReasonLen is the longest purge or unregister reason, in bytes.
	MaxReasonLen = 64
)

// ValidateName checks that name is 1..MaxNameLen bytes of valid UTF-8.
func ValidateName(name string) error {
	switch {
	case name == "":
		return ErrNameEmpty
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrNameTooLong, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q", ErrNameInvalid, name)
	}
	return nil
}

func validateOwner(p transport.PID) error {
	if p.IsZero() || p.Incarnation == 0 || p.Serial == 0 {
		return fmt.Errorf("%w: %q", ErrInvalidOwner, p.String())
	}
	if err := transport.ValidateNodeID(p.Node); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOwner, err)
	}
	return nil
}

func validateMeta(meta []byte) error {
	if len(meta) > MaxMetaLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, len(meta), MaxMetaLen)
	}
	return nil
}

func validateReason(r Reason) error {
	if r == "" || len(r) > MaxReasonLen || !utf8.ValidString(string(r)) {
		return fmt.Errorf("%w: %q", ErrInvalidReason, string(r))
	}
	return nil
}
