package main

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// uiFiles is the web console: plain HTML, CSS and JavaScript, embedded in
// the binary (no CDN, no build step). It uses the public HTTP API only.
//
//go:embed ui
var uiFiles embed.FS

// uiPolicy keeps the console to its own files: scripts, styles and
// connections to this agent only, no framing (clickjacking of the
// unregister button).
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// ui serves GET /ui/...: the console's files, and /ui/features.json, which
// tells the page which optional endpoints this agent has (so that it never
// probes for one that is missing).
func (s *apiServer) ui(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", uiPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	if r.URL.Path == "/ui/features.json" {
		writeJSON(w, http.StatusOK, s.uiFeatures())
		return
	}
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.StripPrefix("/ui/", http.FileServerFS(sub)).ServeHTTP(w, r)
}

// uiFeatures lists the optional endpoints the console can show.
func (s *apiServer) uiFeatures() map[string]bool {
	f := map[string]bool{"groups": false, "singletons": false}
	for _, rt := range s.routes() {
		switch {
		case strings.HasPrefix(rt.path, "/v1/groups"):
			f["groups"] = true
		case strings.HasPrefix(rt.path, "/v1/singletons"):
			f["singletons"] = true
		}
	}
	return f
}

// favicon serves GET /favicon.ico, which browsers ask for on their own
// for any page of the agent (the console's image, as SVG), so that it is
// not a 404 in their console.
func (s *apiServer) favicon(w http.ResponseWriter, r *http.Request) {
	b, err := uiFiles.ReadFile("ui/favicon.svg")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
