package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster/global"
	"github.com/roster-dev/roster/transport"
)

// registerBody is the body of PUT /v1/names/{name}.
type registerBody struct {
	PID  string          `json:"pid"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

func (s *apiServer) registerName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	var b registerBody
	if err := decodeBody(w, r, &b, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	pid, err := parsePID(b.PID, "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(b.Meta) > 0 && string(b.Meta) == "null" {
		b.Meta = nil
	}
	wait, err := waitParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reg, err := s.registerWaiting(r.Context(), name, pid, b.Meta, wait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, reg)
}

// waitParam reads ?wait= of a blocking register (default 0: fail at once
// with name_taken; capped at maxWait).
func waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badReq("bad_duration", "wait=%q: want a non-negative Go duration like 30s", v)
	}
	return min(d, maxWait), nil
}

// registerWaiting registers name for pid; while another process holds it
// and wait has not run out, it waits for the name to be free (the watch
// stream, and a lookup every second in case an event was missed) and
// tries again: a campaign any HTTP client can run. When wait runs out it
// returns the last name_taken.
func (s *apiServer) registerWaiting(ctx context.Context, name string, pid transport.PID, meta json.RawMessage, wait time.Duration) (registration, error) {
	reg, err := s.be.RegisterGlobal(ctx, name, pid, meta)
	var taken *nameTakenError
	if wait <= 0 || !errors.As(err, &taken) {
		return reg, err
	}
	lastTaken := err
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	evs, werr := s.be.WatchGlobal(ctx, name, 0)
	if werr != nil {
		evs = nil // fall back to the lookups
	}
	for {
		if !s.waitNameFree(ctx, name, evs) {
			return registration{}, lastTaken
		}
		reg, err = s.be.RegisterGlobal(ctx, name, pid, meta)
		if !errors.As(err, &taken) {
			return reg, err
		}
		lastTaken = err
	}
}

// waitNameFree waits until name is not in the local replica (a miss is
// checked with the leader) or ctx ends (false).
func (s *apiServer) waitNameFree(ctx context.Context, name string, evs <-chan nameEvent) bool {
	for {
		if _, err := s.be.LookupGlobal(ctx, name, false); errors.Is(err, errNotFound) {
			return true
		}
		tick := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			tick.Stop()
			return false
		case <-tick.C:
		case _, ok := <-evs:
			tick.Stop()
			if !ok {
				evs = nil
			}
		}
	}
}

func (s *apiServer) lookupName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	consistent, err := boolParam(r, "consistent")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reg, err := s.be.LookupGlobal(r.Context(), name, consistent)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reg)
}

func (s *apiServer) unregisterName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	pid, err := parsePID(r.URL.Query().Get("pid"), "pid query parameter (the owner)")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.be.UnregisterGlobal(r.Context(), name, pid); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Page limits of list endpoints (?limit=): the default and the largest.
const (
	defaultPageLimit = global.DefaultPageLimit // 1000
	maxPageLimit     = global.MaxPageLimit     // 10000
)

// namesPage is the body of GET /v1/names: one page, sorted by name; Next
// (only when more remain) is the after= of the following page.
type namesPage struct {
	Names []registration `json:"names"`
	Next  string         `json:"next,omitempty"`
}

func (s *apiServer) listNames(w http.ResponseWriter, r *http.Request) {
	consistent, err := boolParam(r, "consistent")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	regs, next, err := s.be.ListGlobal(r.Context(), q.Get("prefix"), q.Get("after"), limit, consistent)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if regs == nil {
		regs = []registration{}
	}
	writeJSON(w, http.StatusOK, namesPage{Names: regs, Next: next})
}

// limitParam parses ?limit= of a list endpoint: absent means
// defaultPageLimit; anything but 1..maxPageLimit is 400 bad_limit.
func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, badReq("bad_limit", "limit=%q: want 1..%d (default %d)", v, maxPageLimit, defaultPageLimit)
	}
	return n, nil
}

func (s *apiServer) sendName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readMessage(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reg, err := s.be.SendGlobal(r.Context(), name, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"pid": reg.PID.String(), "fence": reg.Fence})
}
