package global

import (
	"errors"
	"fmt"

	"github.com/roster-dev/roster/local"
	"github.com/roster-dev/roster/transport"
)

// Errors returned by the name table. Compare with errors.Is.
var (
	ErrNameEmpty         = errors.New("global: name is empty")
	ErrNameTooLong       = errors.New("global: name too long")
	ErrNameInvalid       = errors.New("global: name is not valid UTF-8")
	ErrMetaTooLarge      = errors.New("global: metadata too large")
	ErrInvalidOwner      = errors.New("global: invalid owner pid")
	ErrInvalidReason     = errors.New("global: invalid reason")
	ErrAlreadyRegistered = errors.New("global: name already registered")
	// ErrNotFound is local.ErrNotFound, Roster's one not-found error (also
	// node.ErrNotFound): errors.Is matches it whatever kind of name is
	// missing.
	ErrNotFound           = local.ErrNotFound
	ErrNotOwner           = errors.New("global: caller does not own the name")
	ErrOwnerGone          = errors.New("global: owner's node incarnation was purged")
	ErrNoQuorum           = errors.New("global: no quorum")
	ErrNoLeader           = errors.New("global: no leader")
	ErrNotLeader          = errors.New("global: not the leader")
	ErrOutcomeUnknown     = errors.New("global: write outcome unknown")
	ErrShutdown           = errors.New("global: table shut down")
	ErrCompacted          = errors.New("global: watch index compacted")
	ErrWatcherTooSlow     = errors.New("global: watcher too slow, dropped")
	ErrCorruptSnapshot    = errors.New("global: corrupt snapshot")
	ErrBadRequest         = errors.New("global: malformed rpc request")
	ErrUnknownMethod      = errors.New("global: unknown rpc method")
	ErrHasState           = errors.New("global: raft state exists, refusing to bootstrap")
	ErrBadCommand         = errors.New("global: malformed command")
	ErrUnsupportedVersion = errors.New("global: unsupported command version")
	ErrBadConfig          = errors.New("global: invalid config")
	ErrBadLimit           = errors.New("global: page limit out of range")
	ErrCorruptDataDir     = errors.New("global: data dir is damaged")
	ErrLogStoreMismatch   = errors.New("global: data dir holds another log store")
	ErrStateMissing       = errors.New("global: data dir is missing raft state")
	// ErrRefusedRPC: a raft RPC from a peer failed validation (it would
	// have crashed raft or left it unable to start) and was refused.
	ErrRefusedRPC = errors.New("global: raft rpc refused")
	// ErrDamagedLog: the raft log on disk holds an entry raft would panic
	// on (a gap, an unknown type, an undecodable configuration); the node
	// refuses to start instead.
	ErrDamagedLog = errors.New("global: raft log damaged")
)

// AlreadyRegisteredError is returned by Register when the name is owned by a
// live process. It matches ErrAlreadyRegistered with errors.Is.
type AlreadyRegisteredError struct {
	Name  string
	Owner transport.PID
	// Fence is the current registration's fence token.
	Fence uint64
}

func (e *AlreadyRegisteredError) Error() string {
	return fmt.Sprintf("global: name %q already registered to %s", e.Name, e.Owner)
}

// Is reports whether target is ErrAlreadyRegistered.
func (e *AlreadyRegisteredError) Is(target error) bool { return target == ErrAlreadyRegistered }

// errCode is the on-the-wire and in-FSM form of an outcome. It is stored in
// snapshots (the dedup table) and sent over RPC: append only.
type errCode uint8

const (
	codeOK                errCode = 0
	codeAlreadyRegistered errCode = 1
	codeNotFound          errCode = 2
	codeNotOwner          errCode = 3
	codeOwnerGone         errCode = 4
	codeNameEmpty         errCode = 5
	codeNameTooLong       errCode = 6
	codeNameInvalid       errCode = 7
	codeMetaTooLarge      errCode = 8
	codeInvalidOwner      errCode = 9
	codeBadCommand        errCode = 10
	codeUnsupported       errCode = 11
	codeNotLeader         errCode = 12 // retryable: the receiver is not the leader
	codeNoQuorum          errCode = 13 // retryable: raft could not commit
	codeUnknown           errCode = 14 // retryable with the same request id
	codeShutdown          errCode = 15
	codeInvalidReason     errCode = 16
	codeOther             errCode = 17 // Msg carries the text
)

var codeErrs = map[errCode]error{
	codeNotFound:      ErrNotFound,
	codeNotOwner:      ErrNotOwner,
	codeOwnerGone:     ErrOwnerGone,
	codeNameEmpty:     ErrNameEmpty,
	codeNameTooLong:   ErrNameTooLong,
	codeNameInvalid:   ErrNameInvalid,
	codeMetaTooLarge:  ErrMetaTooLarge,
	codeInvalidOwner:  ErrInvalidOwner,
	codeBadCommand:    ErrBadCommand,
	codeUnsupported:   ErrUnsupportedVersion,
	codeNotLeader:     ErrNotLeader,
	codeNoQuorum:      ErrNoQuorum,
	codeUnknown:       ErrOutcomeUnknown,
	codeShutdown:      ErrShutdown,
	codeInvalidReason: ErrInvalidReason,
}

// codeOf maps an error to its code; errors without a code become codeOther.
func codeOf(err error) errCode {
	if err == nil {
		return codeOK
	}
	if errors.Is(err, ErrAlreadyRegistered) {
		return codeAlreadyRegistered
	}
	for c, e := range codeErrs {
		if errors.Is(err, e) {
			return c
		}
	}
	return codeOther
}

// retryable reports whether a write that failed with c may be retried with
// the same request id (it was not applied, or dedup makes a retry safe).
func (c errCode) retryable() bool {
	return c == codeNotLeader || c == codeNoQuorum || c == codeUnknown
}

func asAlready(err error, target **AlreadyRegisteredError) bool {
	return err != nil && errors.As(err, target)
}
