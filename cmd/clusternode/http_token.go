package main

import "net/http"

// tokenSelf is the answer to GET /v1/acl/token/self: what the caller's
// token may do, so that a client (the web console) offers only what it
// will be allowed. It reveals nothing but the caller's own policy.
type tokenSelf struct {
	// ACLs is false when the agent runs without ACLs: every caller may
	// do everything, token or not.
	ACLs bool `json:"acls"`
	// ID is the token's id; empty for a caller without a token.
	ID        string   `json:"id,omitempty"`
	Anonymous bool     `json:"anonymous"`
	Policy    string   `json:"policy"` // none, read, write, operator
	Names     []string `json:"names"`  // name prefixes in scope (operator: all)
	Groups    []string `json:"groups"` // group prefixes in scope
	Health    bool     `json:"health"`
	Metrics   bool     `json:"metrics"`
}

// tokenSelf answers with the caller's identity as the ACL check found it
// (an unknown token was already refused with 401 invalid_token).
func (s *apiServer) tokenSelf(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r)
	p := id.Policy
	out := tokenSelf{
		ACLs: s.acl != nil, ID: id.ID, Anonymous: id.Anonymous, Policy: p.Level.String(),
		Names: nonNil(p.Names), Groups: nonNil(p.Groups), Health: p.Health, Metrics: p.Metrics,
	}
	if p.Level == accOperator {
		out.Names, out.Groups = []string{""}, []string{""}
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
