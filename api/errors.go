package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinels for the API's error codes; an *Error from the agent matches
// the one of its code (errors.Is). Codes the client does not know match
// by HTTP status where one below fits (401, 403, 404, 429, 503).
var (
	// ErrNameTaken: 409 name_taken; Error.Owner holds the current owner.
	ErrNameTaken = errors.New("api: name already registered")
	// ErrNotFound: 404 not_found (no such name, key, group member or endpoint).
	ErrNotFound = errors.New("api: not found")
	// ErrNoProc: 404 noproc (no such live process).
	ErrNoProc = errors.New("api: no such process")
	// ErrNotOwner: 409 not_owner (the pid given does not own the name).
	ErrNotOwner = errors.New("api: not the owner")
	// ErrInvalidName: 400 invalid_name.
	ErrInvalidName = errors.New("api: invalid name")
	// ErrBadRequest: any other 400 (bad_json, bad_pid, bad_duration,
	// bad_param, bad_limit, ...).
	ErrBadRequest = errors.New("api: bad request")
	// ErrTooLarge: 413 too_large.
	ErrTooLarge = errors.New("api: request too large")
	// ErrCompacted: 410 compacted (a watch index older than the agent
	// keeps: list again and watch from the list's index).
	ErrCompacted = errors.New("api: index compacted")
	// ErrRemotePID: 421 remote_pid; Error.Node names the agent's node
	// that serves the pid.
	ErrRemotePID = errors.New("api: pid is on another node")
	// ErrMailboxFull: 429 mailbox_full.
	ErrMailboxFull = errors.New("api: mailbox full")
	// ErrTooManyRequests: any other 429 (too_many_processes,
	// too_many_watches, ...).
	ErrTooManyRequests = errors.New("api: over a limit")
	// ErrOutcomeUnknown: 503 outcome_unknown (a write may or may not have
	// been applied; read before retrying).
	ErrOutcomeUnknown = errors.New("api: write outcome unknown")
	// ErrUnavailable: 503 unavailable, unhealthy, canceled (no leader, or
	// the agent is shutting down).
	ErrUnavailable = errors.New("api: unavailable")
	// ErrTimeout: 504 timeout.
	ErrTimeout = errors.New("api: timeout")
	// ErrUnauthorized: 401 (token_required, invalid_token).
	ErrUnauthorized = errors.New("api: token missing or invalid")
	// ErrForbidden: 403 (permission_denied, ...).
	ErrForbidden = errors.New("api: permission denied")
	// ErrMethodNotAllowed: 405 method_not_allowed.
	ErrMethodNotAllowed = errors.New("api: method not allowed")
	// ErrCalleeExited: 502 callee_exited (the callee of a call died before
	// it replied).
	ErrCalleeExited = errors.New("api: callee exited")
	// ErrStaleFence: 409 stale_fence (a send carried an older fence than
	// the name's current registration).
	ErrStaleFence = errors.New("api: stale fence")
	// ErrUnknownCall: 404 unknown_call (a reply to a call that is not
	// pending: answered already, timed out, or never made).
	ErrUnknownCall = errors.New("api: no such call")
	// ErrNotImplemented: 501 not_implemented (the agent lacks the feature).
	ErrNotImplemented = errors.New("api: not implemented")
)

// codeErrors maps the API's codes to sentinels.
var codeErrors = map[string]error{
	"name_taken":         ErrNameTaken,
	"not_found":          ErrNotFound,
	"noproc":             ErrNoProc,
	"not_owner":          ErrNotOwner,
	"invalid_name":       ErrInvalidName,
	"too_large":          ErrTooLarge,
	"compacted":          ErrCompacted,
	"remote_pid":         ErrRemotePID,
	"mailbox_full":       ErrMailboxFull,
	"outcome_unknown":    ErrOutcomeUnknown,
	"unavailable":        ErrUnavailable,
	"unhealthy":          ErrUnavailable,
	"canceled":           ErrUnavailable,
	"timeout":            ErrTimeout,
	"token_required":     ErrUnauthorized,
	"invalid_token":      ErrUnauthorized,
	"permission_denied":  ErrForbidden,
	"method_not_allowed": ErrMethodNotAllowed,
	"callee_exited":      ErrCalleeExited,
	"stale_fence":        ErrStaleFence,
	"unknown_call":       ErrUnknownCall,
	"not_implemented":    ErrNotImplemented,
	"invalid_group":      ErrInvalidName,
	"not_process_owner":  ErrForbidden,
	"cross_origin":       ErrForbidden,
	"host_not_allowed":   ErrForbidden,
	// A client error: the request lacked Content-Type: application/json.
	"unsupported_media_type": ErrBadRequest,
	// The request's body did not arrive in time.
	"body_timeout": ErrTimeout,
}

// statusErrors is the fallback by HTTP status.
var statusErrors = map[int]error{
	http.StatusBadRequest:            ErrBadRequest,
	http.StatusUnauthorized:          ErrUnauthorized,
	http.StatusForbidden:             ErrForbidden,
	http.StatusNotFound:              ErrNotFound,
	http.StatusRequestEntityTooLarge: ErrTooLarge,
	http.StatusTooManyRequests:       ErrTooManyRequests,
	http.StatusServiceUnavailable:    ErrUnavailable,
	http.StatusGatewayTimeout:        ErrTimeout,
	http.StatusBadGateway:            ErrCalleeExited,
	http.StatusNotImplemented:        ErrNotImplemented,
}

// Error is an error answer of the agent: its HTTP status and JSON body
// {"error": ..., "code": ...} plus the data some codes carry.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's machine code, e.g. "name_taken".
	Code string `json:"code"`
	// Message is the agent's description.
	Message string `json:"error"`
	// Owner is the current owner on name_taken.
	Owner *Registration `json:"owner,omitempty"`
	// Node is the node that serves the pid on remote_pid.
	Node string `json:"node,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.StatusCode, e.Code)
}

// Is matches the sentinel of e's code and the one of its HTTP status
// (so an invalid_name is also an ErrBadRequest, and a code the client does
// not know still matches by status).
func (e *Error) Is(target error) bool {
	if s, ok := codeErrors[e.Code]; ok && s == target {
		return true
	}
	return statusErrors[e.StatusCode] == target
}
