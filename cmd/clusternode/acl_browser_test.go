package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestBrowserChecks(t *testing.T) {
	a := newTestAPIWith(t, func(s *apiServer) {
		s.browser = browserPolicy{CheckHost: true, AllowedOrigins: []string{"https://app.example"}, AllowedHosts: []string{"roster.internal"}}
	})
	// A foreign page's simple POST (text/plain, its Origin) spawns nothing.
	evil := a.as("")
	evil.hdr.Set("Origin", "http://evil.example")
	evil.expect("POST", "/v1/processes", "", http.StatusForbidden, "cross_origin")
	evil.expect("GET", "/v1/names", "", http.StatusForbidden, "cross_origin")
	// No Origin but the browser says cross-site (a no-cors GET).
	site := a.as("")
	site.hdr.Set("Sec-Fetch-Site", "cross-site")
	site.expect("GET", "/v1/status", "", http.StatusForbidden, "cross_origin")
	// Writes need a JSON content type: what a page cannot send unpreflighted.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		p := a.as("")
		p.hdr.Set("Content-Type", ct)
		p.expect("POST", "/v1/processes", `{"ttl":"1s"}`, http.StatusUnsupportedMediaType, "unsupported_media_type")
		p.expect("PUT", "/v1/names/x", `{"pid":"n1.7.1"}`, http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	charset := a.as("")
	charset.hdr.Set("Content-Type", "application/json; charset=utf-8")
	charset.spawn("")
	// The agent's own origin (the console's pages) and an allowed one pass.
	same := a.as("")
	same.hdr.Set("Origin", a.base)
	same.spawn("")
	app := a.as("")
	app.hdr.Set("Origin", "https://app.example")
	st, hdr, _ := app.do("GET", "/v1/status", "")
	if st != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("allowed origin: %d, ACAO %q", st, hdr.Get("Access-Control-Allow-Origin"))
	}
	st, hdr, _ = app.do("OPTIONS", "/v1/processes", "")
	if st != http.StatusNoContent || !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", st, hdr)
	}
}

func TestBrowserHostCheck(t *testing.T) {
	p := browserPolicy{CheckHost: true, AllowedHosts: []string{"roster.internal"}}
	for host, want := range map[string]bool{
		"127.0.0.1:7480": true, "localhost:7480": true, "[::1]:7480": true, "localhost": true,
		"127.0.0.2": true, "LOCALHOST.:7480": true, "roster.internal:7480": true,
		"evil.example:7480": false, "evil.example": false, "10.0.0.1:7480": false, "": false,
		"localhost.evil.example": false,
	} {
		if got := p.hostAllowed(host); got != want {
			t.Errorf("Host %q: allowed %v, want %v", host, got, want)
		}
	}
	// Over HTTP: a DNS-rebound name is refused.
	a := newTestAPIWith(t, func(s *apiServer) { s.browser = p })
	req, _ := http.NewRequest("GET", a.base+"/v1/status", nil)
	req.Host = "evil.example:7480"
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Host evil.example: %d, want 403", resp.StatusCode)
	}
	a.expect("GET", "/v1/status", "", http.StatusOK, "") // 127.0.0.1:port
}
