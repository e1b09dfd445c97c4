package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// access is what a request does to a resource; each level includes the
// ones below it.
type access uint8

const (
	accNone     access = iota
	accRead            // look up, list, watch, status
	accWrite           // register, unregister, send, spawn and drive its own processes
	accOperator        // everything, on every name, group and process
)

func (a access) String() string {
	switch a {
	case accRead:
		return "read"
	case accWrite:
		return "write"
	case accOperator:
		return "operator"
	}
	return "none"
}

func parseAccess(s string) (access, error) {
	switch s {
	case "read":
		return accRead, nil
	case "write":
		return accWrite, nil
	case "operator":
		return accOperator, nil
	}
	return accNone, fmt.Errorf("policy %q: want read, write or operator", s)
}

// aclPolicy is what a token (or anonymous) may do. Names and Groups are
// prefixes: a name is in scope when it starts with one of them ("" or "*"
// is every name). Operator ignores them.
type aclPolicy struct {
	Level  access
	Names  []string
	Groups []string
	// Health and Metrics open GET /v1/health and GET /metrics; every token
	// has them, anonymous only when configured.
	Health, Metrics bool
}

// inScope reports whether s starts with one of prefixes.
func inScope(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if p == "*" || strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// aclIdentity is who a request is: a token's id (the owner recorded on the
// processes it spawns) and its policy. The anonymous identity has ID "".
type aclIdentity struct {
	ID     string
	Policy aclPolicy
	// Anonymous is set when the request carried no token: a refusal is
	// then 401 (present a token), not 403.
	Anonymous bool
}

// aclToken is one configured token: its id and the SHA-256 of its secret.
type aclToken struct {
	id     string
	hash   [sha256.Size]byte
	policy aclPolicy
}

// acls is the daemon's token table. A nil *acls means ACLs are off: every
// request acts as one unrestricted identity (the -dev default).
type acls struct {
	tokens    []aclToken
	byHash    map[[sha256.Size]byte]int // index in tokens
	anonymous aclIdentity
}

// Errors of ACL configuration.
var errACLConfig = errors.New("clusternode: acl config")

// aclFile is the JSON form of -acl-file.
type aclFile struct {
	Anonymous *struct {
		Policy  string   `json:"policy"`
		Names   []string `json:"names"`
		Groups  []string `json:"groups"`
		Health  *bool    `json:"health"`
		Metrics bool     `json:"metrics"`
	} `json:"anonymous"`
	Tokens []aclFileToken `json:"tokens"`
}

// aclFileToken is one token of -acl-file. Exactly one of Secret and
// SecretSHA256 (hex) is given.
type aclFileToken struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	SecretSHA256 string   `json:"secret_sha256"`
	Policy       string   `json:"policy"`
	Names        []string `json:"names"`
	Groups       []string `json:"groups"`
}

// minSecretLen is the shortest secret accepted in -acl-file or the
// environment: 16 bytes (keygen prints 44).
const minSecretLen = 16

// loadACLs builds the token table from -acl-file (path, may be empty) and
// the operator token from the environment (may be empty). Both empty:
// ACLs are off and loadACLs returns nil.
func loadACLs(path, operatorSecret string) (*acls, error) {
	if path == "" && operatorSecret == "" {
		return nil, nil
	}
	a := &acls{anonymous: aclIdentity{ID: anonymousID, Anonymous: true, Policy: aclPolicy{Health: true}}}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errACLConfig, err)
		}
		if err := a.parse(raw); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errACLConfig, path, err)
		}
	}
	if operatorSecret != "" {
		if err := a.add(aclFileToken{ID: "operator-env", Secret: operatorSecret, Policy: "operator"}); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errACLConfig, envACLOperatorToken, err)
		}
	}
	return a, nil
}

// anonymousID is the owner recorded on processes spawned without a token
// when the anonymous policy allows it (ACLs on).
const anonymousID = "anonymous"

// envACLOperatorToken holds an operator token's secret; an environment
// variable only, so that the secret never sits in argv.
const envACLOperatorToken = "CLUSTERNODE_ACL_OPERATOR_TOKEN"

func (a *acls) parse(raw []byte) error {
	var f aclFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return err
	}
	if an := f.Anonymous; an != nil {
		p := aclPolicy{Names: an.Names, Groups: an.Groups, Health: true, Metrics: an.Metrics}
		if an.Health != nil {
			p.Health = *an.Health
		}
		if an.Policy != "" {
			lvl, err := parseAccess(an.Policy)
			if err != nil {
				return fmt.Errorf("anonymous: %v", err)
			}
			if lvl == accOperator {
				return errors.New("anonymous: operator is not allowed")
			}
			p.Level = lvl
		}
		a.anonymous.Policy = p
	}
	for i, t := range f.Tokens {
		if err := a.add(t); err != nil {
			return fmt.Errorf("tokens[%d]: %v", i, err)
		}
	}
	return nil
}

func (a *acls) add(t aclFileToken) error {
	if t.ID == "" || t.ID == anonymousID {
		return fmt.Errorf("id %q: want a non-empty id other than %q", t.ID, anonymousID)
	}
	for _, o := range a.tokens {
		if o.id == t.ID {
			return fmt.Errorf("id %q is used twice", t.ID)
		}
	}
	lvl, err := parseAccess(t.Policy)
	if err != nil {
		return err
	}
	tok := aclToken{id: t.ID, policy: aclPolicy{Level: lvl, Names: t.Names, Groups: t.Groups, Health: true, Metrics: true}}
	switch {
	case t.Secret != "" && t.SecretSHA256 != "":
		return errors.New("give secret or secret_sha256, not both")
	case t.Secret != "":
		if len(t.Secret) < minSecretLen {
			return fmt.Errorf("secret of %q is %d bytes, want at least %d", t.ID, len(t.Secret), minSecretLen)
		}
		tok.hash = sha256.Sum256([]byte(t.Secret))
	case t.SecretSHA256 != "":
		h, err := hex.DecodeString(t.SecretSHA256)
		if err != nil || len(h) != sha256.Size {
			return fmt.Errorf("secret_sha256 of %q: want 64 hex digits", t.ID)
		}
		copy(tok.hash[:], h)
	default:
		return fmt.Errorf("token %q has no secret or secret_sha256", t.ID)
	}
	if i, dup := a.byHash[tok.hash]; dup {
		return fmt.Errorf("tokens %q and %q have the same secret", a.tokens[i].id, t.ID)
	}
	if a.byHash == nil {
		a.byHash = map[[sha256.Size]byte]int{}
	}
	a.byHash[tok.hash] = len(a.tokens)
	a.tokens = append(a.tokens, tok)
	return nil
}

// errBadToken: a token was presented that is not configured.
var errBadToken = errors.New("clusternode: unknown ACL token")

// identify returns the identity of a presented secret ("" for none).
// Secrets are never compared: their SHA-256 digests are. The digest of the
// presented secret finds its token in a map, and the match is confirmed
// with a constant-time comparison. What the lookup's timing could reveal
// is how a digest the caller chose relates to the stored digests, and a
// stored digest is of no use without a preimage of it (the secret), so
// the check costs the same few hundred nanoseconds for 1 token or 10,000
// (BenchmarkACLCheck) without leaking anything a caller can use.
func (a *acls) identify(secret string) (aclIdentity, error) {
	if secret == "" {
		return a.anonymous, nil
	}
	h := sha256.Sum256([]byte(secret))
	i, ok := a.byHash[h]
	if !ok || subtle.ConstantTimeCompare(h[:], a.tokens[i].hash[:]) != 1 {
		return aclIdentity{}, errBadToken
	}
	t := &a.tokens[i]
	return aclIdentity{ID: t.id, Policy: t.policy}, nil
}

// unrestricted is the identity of every request when ACLs are off.
var unrestricted = aclIdentity{Policy: aclPolicy{Level: accOperator, Health: true, Metrics: true}}
