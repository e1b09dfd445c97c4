package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/roster-dev/roster/transport"
)

// resource is what an ACL rule guards.
type resource uint8

const (
	resNone     resource = iota // the zero rule: undeclared, always refused
	resHealth                   // GET /v1/health
	resMetrics                  // GET /metrics
	resAgent                    // this node and the cluster: status, members
	resName                     // global and local names, scoped by the token's name prefixes
	resGroup                    // groups, scoped by the token's group prefixes
	resProcess                  // HTTP client processes and sends to pids
	resOperator                 // operator only (keyring and the like)
	resPublic                   // files that hold no cluster data (the web console's HTML, CSS, JS)
)

// aclRule is the requirement an endpoint declares where it is registered
// (http.go's routes). Build one with the constructors below; the zero
// aclRule is "undeclared" and its endpoint answers 403 acl_undeclared to
// everybody, ACLs on or off, so that a route added without a rule is
// noticed at its first request (and by TestEveryRouteDeclaresACL).
type aclRule struct {
	res     resource
	acc     access
	subject subjectSource // the name, group or prefix in scope; nil: none
	owner   pidSource     // a pid the caller must own (processes spawned by its token); nil: none
}

// subjectSource reads the name, group or prefix a request touches.
type subjectSource func(r *http.Request) string

// pidSource reads the pid a request acts on; ok is false when the request
// has none or it does not parse (the handler then answers 400).
type pidSource func(r *http.Request) (transport.PID, bool)

// Subject and pid sources for rules.
var (
	// pathValue is a {wildcard} of the route's pattern.
	pathValue = func(name string) subjectSource { return func(r *http.Request) string { return r.PathValue(name) } }
	// queryValue is a query parameter (a list or watch ?prefix=; "" is
	// every name, so only an unscoped token may omit it).
	queryValue = func(name string) subjectSource {
		return func(r *http.Request) string { return r.URL.Query().Get(name) }
	}
	pathPID = func(name string) pidSource {
		return parsedPID(func(r *http.Request) string { return r.PathValue(name) })
	}
	queryPID = func(name string) pidSource {
		return parsedPID(func(r *http.Request) string { return r.URL.Query().Get(name) })
	}
	// bodyPID is the "pid" field of a JSON body (peeked: the handler reads
	// the body again).
	bodyPID pidSource = func(r *http.Request) (transport.PID, bool) {
		var b struct {
			PID string `json:"pid"`
		}
		raw, err := peekBody(r)
		if err != nil || json.Unmarshal(raw, &b) != nil {
			return transport.PID{}, false
		}
		pid, err := transport.ParsePID(b.PID)
		return pid, err == nil
	}
)

func parsedPID(get func(*http.Request) string) pidSource {
	return func(r *http.Request) (transport.PID, bool) {
		pid, err := transport.ParsePID(get(r))
		return pid, err == nil
	}
}

// Rule constructors: every route uses one.
func healthRule() aclRule   { return aclRule{res: resHealth, acc: accRead} }
func metricsRule() aclRule  { return aclRule{res: resMetrics, acc: accRead} }
func agentRead() aclRule    { return aclRule{res: resAgent, acc: accRead} }
func operatorOnly() aclRule { return aclRule{res: resOperator, acc: accOperator} }

// publicRule is for files anyone may fetch because they hold no cluster
// data: the web console's page and scripts. Everything the page shows it
// reads through the API with the caller's token, under that endpoint's
// rule; a browser cannot attach a bearer token to a page load, so the page
// itself must load without one.
func publicRule() aclRule               { return aclRule{res: resPublic, acc: accRead} }
func nameRead(s subjectSource) aclRule  { return aclRule{res: resName, acc: accRead, subject: s} }
func nameWrite(s subjectSource) aclRule { return aclRule{res: resName, acc: accWrite, subject: s} }
func groupRead(s subjectSource) aclRule { return aclRule{res: resGroup, acc: accRead, subject: s} }
func groupWrite(s subjectSource) aclRule {
	return aclRule{res: resGroup, acc: accWrite, subject: s}
}

// processWrite is spawning a process or sending to a pid: any write token.
func processWrite() aclRule { return aclRule{res: resProcess, acc: accWrite} }

// ownProcess is driving a process: its mailbox, renewals, kill. Only the
// token that spawned it (or an operator) may.
func ownProcess(p pidSource) aclRule { return aclRule{res: resProcess, acc: accWrite, owner: p} }

// owns adds a pid the caller must own to a rule (registering a name for a
// pid, joining a group, unregistering).
func (r aclRule) owns(p pidSource) aclRule { r.owner = p; return r }

// declared reports whether the rule was built by a constructor.
func (r aclRule) declared() bool { return r.res != resNone }

// aclDenial is a refused request: status, code and message.
type aclDenial struct {
	status int
	code   string
	msg    string
}

// allows checks id's policy against the rule, without ownership.
func (r aclRule) allows(id aclIdentity, req *http.Request) *aclDenial {
	p := id.Policy
	deny := func(format string, args ...any) *aclDenial {
		who := fmt.Sprintf("token %q", id.ID)
		if id.Anonymous {
			return &aclDenial{http.StatusUnauthorized, "token_required", "an ACL token is required: " + fmt.Sprintf(format, args...)}
		}
		return &aclDenial{http.StatusForbidden, "permission_denied", who + ": " + fmt.Sprintf(format, args...)}
	}
	switch r.res {
	case resNone:
		return &aclDenial{http.StatusForbidden, "acl_undeclared", "this endpoint declares no ACL rule and is refused"}
	case resPublic:
		return nil
	case resHealth:
		if p.Health {
			return nil
		}
		return deny("health needs a token")
	case resMetrics:
		if p.Metrics {
			return nil
		}
		return deny("metrics need a token")
	}
	if p.Level < r.acc {
		return deny("%s access needed, policy is %s", r.acc, p.Level)
	}
	if p.Level == accOperator || r.subject == nil {
		if r.res == resOperator && p.Level < accOperator {
			return deny("operator access needed")
		}
		return nil
	}
	s := r.subject(req)
	switch r.res {
	case resName:
		if !inScope(p.Names, s) {
			return deny("name (or prefix) %q is outside the token's name prefixes %q", s, p.Names)
		}
	case resGroup:
		if !inScope(p.Groups, s) {
			return deny("group (or prefix) %q is outside the token's group prefixes %q", s, p.Groups)
		}
	}
	return nil
}

// identityKey is the request context key of the caller's aclIdentity.
type identityKey struct{}

// identityOf is the caller of a request that passed the ACL check.
func identityOf(r *http.Request) aclIdentity {
	id, ok := r.Context().Value(identityKey{}).(aclIdentity)
	if !ok {
		return unrestricted
	}
	return id
}

// bearer reads the token of a request: Authorization: Bearer <token>, or
// X-Roster-Token. ok is false when the header is there but malformed.
func bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", false
		}
		return strings.TrimSpace(tok), true
	}
	return r.Header.Get("X-Roster-Token"), true
}

// guard wraps an endpoint's handler with its rule: identify the caller,
// check the rule, check ownership, then run h with the identity in the
// request context.
func (s *apiServer) guard(rule aclRule, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := unrestricted
		if s.acl != nil {
			secret, ok := bearer(r)
			if !ok {
				s.deny(w, r, &aclDenial{http.StatusUnauthorized, "invalid_token", "malformed Authorization header: want Bearer <token>"})
				return
			}
			var err error
			if id, err = s.acl.identify(secret); err != nil {
				s.deny(w, r, &aclDenial{http.StatusUnauthorized, "invalid_token", "the ACL token is not known to this node"})
				return
			}
		}
		if d := rule.allows(id, r); d != nil {
			s.deny(w, r, d)
			return
		}
		if rule.owner != nil && id.Policy.Level < accOperator {
			if d := s.checkOwner(id, rule.owner, r); d != nil {
				s.deny(w, r, d)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}

// checkOwner refuses a pid that is a process of another token, or a live
// local process that was not spawned over HTTP (operators only). A pid
// that is none of these (dead, remote, malformed) passes: the handler
// answers 400, 404 or 421 as without ACLs.
func (s *apiServer) checkOwner(id aclIdentity, src pidSource, r *http.Request) *aclDenial {
	pid, ok := src(r)
	if !ok {
		return nil
	}
	owner, isClient := s.clients.ownerOf(pid)
	switch {
	case isClient && owner == id.ID:
		return nil
	case isClient, s.be.Alive(pid):
		code := http.StatusForbidden
		if id.Anonymous {
			code = http.StatusUnauthorized
		}
		return &aclDenial{code, "not_process_owner",
			fmt.Sprintf("process %s belongs to another token (only its owner or an operator may use it)", pid)}
	}
	return nil
}

func (s *apiServer) deny(w http.ResponseWriter, r *http.Request, d *aclDenial) {
	s.limits.denied(d.code)
	if d.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	}
	if s.log.IsDebug() {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", d.code)
	}
	writeErr(w, d.status, d.code, d.msg)
}

// peekBody reads the body (capped at maxBodyBytes) and puts it back so
// that the handler reads it again.
func peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
	return raw, err
}

type readCloser struct {
	io.Reader
	io.Closer
}
