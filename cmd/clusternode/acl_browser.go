package main

import (
	"mime"
	"net"
	"net/http"
	"strings"
)

// browserPolicy keeps web pages out of the API: a page the operator
// visits may send requests to the agent (a "simple" cross-origin POST, or
// a DNS-rebound name that resolves to 127.0.0.1), and the browser
// attaches nothing that proves it is not the operator. So:
//
//   - a request with an Origin (browsers send one on every cross-origin
//     request but simple GETs) must come from the agent's own origin or one
//     in AllowedOrigins (403 cross_origin); a request a browser marks
//     Sec-Fetch-Site: cross-site or same-site is treated the same;
//   - a write (POST, PUT, PATCH, or a DELETE with a body) must say
//     Content-Type: application/json (415 unsupported_media_type): the
//     content types a page may send without a CORS preflight are exactly
//     the others;
//   - when the API listens on loopback, the Host header must name
//     loopback (localhost, 127.0.0.1, ::1) or one of AllowedHosts (403
//     host_not_allowed): a rebound name carries the attacker's host name.
type browserPolicy struct {
	// AllowedOrigins are extra origins (scheme://host[:port]) whose pages
	// may call the API; they get CORS headers. Default none.
	AllowedOrigins []string
	// AllowedHosts are extra Host names accepted on a loopback listener.
	AllowedHosts []string
	// CheckHost is set when the API listens on loopback.
	CheckHost bool
}

// corsHeaders are the request headers an allowed origin may send.
const corsHeaders = "Authorization, Content-Type, X-Roster-Token, Last-Event-ID"

func (p *browserPolicy) handler(l *limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(status int, code, msg string) {
			l.denied(code)
			writeErr(w, status, code, msg)
		}
		if p.CheckHost && !p.hostAllowed(r.Host) {
			refuse(http.StatusForbidden, "host_not_allowed",
				"Host "+quoteHeader(r.Host)+" is not this agent's: it listens on loopback (see -http-allowed-hosts)")
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" && !sameOrigin(origin, r) {
			if !p.originAllowed(origin) {
				refuse(http.StatusForbidden, "cross_origin",
					"cross-origin request from "+quoteHeader(origin)+" refused (see -http-allowed-origins)")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE")
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if site := r.Header.Get("Sec-Fetch-Site"); origin == "" && (site == "cross-site" || site == "same-site") {
			refuse(http.StatusForbidden, "cross_origin", "cross-site browser request refused")
			return
		}
		if isWrite(r) && !isJSON(r.Header.Get("Content-Type")) {
			refuse(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"a "+r.Method+" needs Content-Type: application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isWrite: the methods that change state and may carry a body.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	case http.MethodDelete:
		return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
	}
	return false
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// sameOrigin: the page was served by this agent (scheme and Host match).
func sameOrigin(origin string, r *http.Request) bool {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return strings.EqualFold(origin, scheme+r.Host)
}

func (p *browserPolicy) originAllowed(origin string) bool {
	for _, o := range p.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// hostAllowed: loopback names and addresses, any port, or AllowedHosts.
func (p *browserPolicy) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range p.AllowedHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// quoteHeader quotes a client-supplied value for an error message,
// bounded and with no control characters.
func quoteHeader(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, `"`+s+`"`)
}
