package main

import (
	"encoding/json"
	"net/http"
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
	reg, err := s.be.RegisterGlobal(r.Context(), name, pid, b.Meta)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, reg)
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

func (s *apiServer) listNames(w http.ResponseWriter, r *http.Request) {
	consistent, err := boolParam(r, "consistent")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	regs, err := s.be.ListGlobal(r.Context(), r.URL.Query().Get("prefix"), consistent)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if regs == nil {
		regs = []registration{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"names": regs})
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
