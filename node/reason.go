package node

import (
	"errors"

	"github.com/roster-dev/roster/transport"
)

// reason is the type of the exit reason sentinels. Its text is the wire code.
type reason struct{ code string }

// Error returns the reason's wire code, e.g. "normal".
func (r *reason) Error() string { return r.code }

// Exit reasons. A process's exit reason is an error: one of these sentinels,
// or the error its function returned (kept as is, locally). Compare with
// errors.Is. Across the wire the sentinels travel as their code and come
// back as the same sentinel; any other error travels as its text and comes
// back as a *RemoteError.
var (
	// Normal: the process function returned nil. Linked processes are not
	// killed by a Normal exit.
	Normal error = &reason{"normal"}
	// Killed: the process was killed by Exit(pid, Killed), which cannot be
	// trapped. Linked processes receive Killed as an ordinary (trappable)
	// exit signal.
	Killed error = &reason{"killed"}
	// Shutdown: the node shut down.
	Shutdown error = &reason{"shutdown"}
	// NoProc: the monitored or linked process did not exist.
	NoProc error = &reason{"noproc"}
	// NoConnection: the transport lost the connection to the process's node.
	NoConnection error = &reason{"noconnection"}
	// NodeDown: membership declared the process's node dead.
	NodeDown error = &reason{"nodedown"}
	// NameLost: the process lost a name it needed (e.g. a global
	// registration purged by a partition).
	NameLost error = &reason{"name_lost"}
)

var sentinels = [...]error{Normal, Killed, Shutdown, NoProc, NoConnection, NodeDown, NameLost}

// codeError is the wire code of a reason that is not a sentinel.
const codeError = "error"

// RemoteError is an exit reason that came over the wire and is not one of
// the sentinels: Code is "error" (or a code this build does not know) and
// Message the original error's text. It errors.Is-matches a sentinel whose
// code equals Code.
type RemoteError struct {
	Code    string
	Message string
}

// Error implements error.
func (e *RemoteError) Error() string {
	if e.Code == codeError || e.Code == "" {
		return e.Message
	}
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is the sentinel with e's code.
func (e *RemoteError) Is(target error) bool {
	r, ok := target.(*reason)
	return ok && r.code == e.Code
}

// ReasonToWire converts an exit reason to its wire form. nil means Normal.
func ReasonToWire(err error) transport.Reason {
	if err == nil {
		return transport.Reason{Code: Normal.Error()}
	}
	if re, ok := err.(*RemoteError); ok && re.Code != "" {
		return transport.Reason{Code: re.Code, Message: re.Message} // forwarded as received
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			if err == s {
				return transport.Reason{Code: s.Error()}
			}
			return transport.Reason{Code: s.Error(), Message: err.Error()}
		}
	}
	return transport.Reason{Code: codeError, Message: err.Error()}
}

// ReasonFromWire converts a wire reason back to an error: a bare sentinel
// code gives the sentinel itself, anything else a *RemoteError.
func ReasonFromWire(r transport.Reason) error {
	if r.Code == "" {
		return Normal
	}
	if r.Message == "" {
		for _, s := range sentinels {
			if s.Error() == r.Code {
				return s
			}
		}
	}
	return &RemoteError{Code: r.Code, Message: r.Message}
}

// isNormal reports whether err is a Normal exit.
func isNormal(err error) bool { return err == nil || errors.Is(err, Normal) }
