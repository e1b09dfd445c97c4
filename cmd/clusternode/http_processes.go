package main

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// ttlBody is the body of POST /v1/processes and PUT .../renew.
type ttlBody struct {
	TTL string `json:"ttl"`
}

// parseTTL reads {"ttl":"30s"} (absent or empty: defaultTTL).
func parseTTL(w http.ResponseWriter, r *http.Request) (time.Duration, error) {
	var b ttlBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return 0, err
	}
	if b.TTL == "" {
		return defaultTTL, nil
	}
	d, err := time.ParseDuration(b.TTL)
	if err != nil {
		return 0, badReq("bad_duration", "ttl %q: %v", b.TTL, err)
	}
	if d < minTTL || d > maxTTL {
		return 0, badReq("bad_duration", "ttl %s not in %s..%s", d, minTTL, maxTTL)
	}
	return d, nil
}

func (s *apiServer) spawnProcess(w http.ResponseWriter, r *http.Request) {
	ttl, err := parseTTL(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pid, err := s.clients.spawn(ttl, identityOf(r).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"pid": pid.String(), "ttl": ttl.String()})
}

func (s *apiServer) renewProcess(w http.ResponseWriter, r *http.Request) {
	pid, err := parsePID(r.PathValue("pid"), "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ttl, err := parseTTL(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.clients.renew(r.Context(), pid, ttl); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pid": pid.String(), "ttl": ttl.String()})
}

func (s *apiServer) deleteProcess(w http.ResponseWriter, r *http.Request) {
	pid, err := parsePID(r.PathValue("pid"), "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.clients.stop(r.Context(), pid); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *apiServer) sendProcess(w http.ResponseWriter, r *http.Request) {
	pid, err := parsePID(r.PathValue("pid"), "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readMessage(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.be.Send(r.Context(), pid, body); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"pid": pid.String()})
}

// receiveProcess is the long-poll: GET .../messages?wait=10s&max=100.
func (s *apiServer) receiveProcess(w http.ResponseWriter, r *http.Request) {
	pid, err := parsePID(r.PathValue("pid"), "pid")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wait, max, err := pollParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	msgs, err := s.clients.poll(ctx, pid, max)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

// pollParams reads ?wait= (default 0: answer at once, capped at maxWait)
// and ?max= (default defaultMax, 1..maxMax).
func pollParams(r *http.Request) (time.Duration, int, error) {
	q := r.URL.Query()
	wait := time.Duration(0)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, 0, badReq("bad_duration", "wait=%q: want a non-negative Go duration like 10s", v)
		}
		wait = min(d, maxWait)
	}
	max := defaultMax
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMax {
			return 0, 0, badReq("bad_param", "max=%q: want an integer in 1..%d", v, maxMax)
		}
		max = n
	}
	return wait, max, nil
}
