package main

import (
	"net/http"

	"github.com/roster-dev/roster/transport"
)

// pidBody is the body of PUT /v1/local/names/{key} and /v1/local/groups/{key}.
type pidBody struct {
	PID string `json:"pid"`
}

// keyAndPID reads the {key} path value and the pid from the JSON body.
func keyAndPID(w http.ResponseWriter, r *http.Request) (string, transport.PID, error) {
	key := r.PathValue("key")
	if err := checkName(key); err != nil {
		return "", transport.PID{}, err
	}
	var b pidBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return "", transport.PID{}, err
	}
	pid, err := parsePID(b.PID, "pid")
	return key, pid, err
}

// keyAndQueryPID reads {key} and ?pid= (for DELETE).
func keyAndQueryPID(r *http.Request) (string, transport.PID, error) {
	key := r.PathValue("key")
	if err := checkName(key); err != nil {
		return "", transport.PID{}, err
	}
	pid, err := parsePID(r.URL.Query().Get("pid"), "pid query parameter")
	return key, pid, err
}

func (s *apiServer) registerLocal(w http.ResponseWriter, r *http.Request) {
	key, pid, err := keyAndPID(w, r)
	if err == nil {
		err = s.be.RegisterLocal(key, pid)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "pid": pid.String()})
}

func (s *apiServer) lookupLocal(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	err := checkName(key)
	var pid transport.PID
	if err == nil {
		pid, err = s.be.LookupLocal(key)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "pid": pid.String()})
}

func (s *apiServer) unregisterLocal(w http.ResponseWriter, r *http.Request) {
	key, pid, err := keyAndQueryPID(r)
	if err == nil {
		err = s.be.UnregisterLocal(key, pid)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *apiServer) joinGroup(w http.ResponseWriter, r *http.Request) {
	key, pid, err := keyAndPID(w, r)
	if err == nil {
		err = s.be.JoinGroup(key, pid)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "pid": pid.String()})
}

func (s *apiServer) groupMembers(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := checkName(key); err != nil {
		s.writeError(w, r, err)
		return
	}
	members := []string{}
	for _, pid := range s.be.GroupMembers(key) {
		members = append(members, pid.String())
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "members": members})
}

func (s *apiServer) leaveGroup(w http.ResponseWriter, r *http.Request) {
	key, pid, err := keyAndQueryPID(r)
	if err == nil {
		err = s.be.LeaveGroup(key, pid)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *apiServer) sendGroup(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	err := checkName(key)
	var n int
	if err == nil {
		body, rerr := readMessage(w, r)
		if err = rerr; err == nil {
			n, err = s.be.SendGroup(r.Context(), key, body)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"key": key, "sent": n})
}
