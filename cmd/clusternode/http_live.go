package main

import (
	"net/http"
	"strconv"
)

// live serves GET /v1/health/live, the liveness check: 200 whenever the
// agent's HTTP server and node answer at all, leader or not. /v1/health is
// readiness (a cluster with a known leader); a liveness probe on it would
// have an orchestrator restart every agent of a cluster that lost its
// quorum, which can only make that worse. Its ACL rule is health's, so the
// probes that may read /v1/health may read this too.
func (s *apiServer) live(w http.ResponseWriter, r *http.Request) {
	node, inc := s.be.Self()
	writeJSON(w, http.StatusOK, map[string]any{"status": "alive", "node": node, "incarnation": strconv.FormatUint(inc, 10)})
}
