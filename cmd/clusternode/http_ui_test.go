package main

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestUIServesEmbeddedFiles: /ui/ serves the console from the binary, with
// a policy that keeps it to its own files; every file the page references
// is there; the feature list names no endpoint the agent lacks.
func TestUIServesEmbeddedFiles(t *testing.T) {
	a := newTestAPI(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := a.client.Get(a.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/ui/")
	if resp.StatusCode != 200 || !strings.Contains(page, "<title>Roster console</title>") {
		t.Fatalf("GET /ui/: %d %q", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "//") {
			t.Errorf("the page loads %s from elsewhere", m[1])
			continue
		}
		r, _ := get("/ui/" + m[1])
		if r.StatusCode != 200 {
			t.Errorf("GET /ui/%s: %d", m[1], r.StatusCode)
		}
	}
	if r, _ := get("/ui/app.js"); !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
		t.Errorf("app.js served as %q", r.Header.Get("Content-Type"))
	}
	if r, body := get("/favicon.ico"); r.StatusCode != 200 || !strings.Contains(body, "<svg") {
		t.Errorf("favicon.ico: %d", r.StatusCode)
	}
	if r, _ := get("/ui/nope.js"); r.StatusCode != 404 {
		t.Errorf("missing file: %d", r.StatusCode)
	}
	noRedirect := *a.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r, err := noRedirect.Get(a.base + "/ui"); err != nil || r.StatusCode/100 != 3 || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %v %v", r, err)
	}
	st, _, f := a.do("GET", "/ui/features.json", "")
	if st != 200 || f["groups"] != a.api.uiFeatures()["groups"] {
		t.Errorf("features %d %v", st, f)
	}
	a.expect("POST", "/ui/", "{}", http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestUIRendersClusterDataAsText: the console's script never turns data
// from the cluster into HTML (names and meta are anyone's input).
func TestUIRendersClusterDataAsText(t *testing.T) {
	js, err := fs.ReadFile(uiFiles, "ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
