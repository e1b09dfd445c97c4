package api

import "context"

// TokenInfo is what the client's ACL token may do.
type TokenInfo struct {
	// ACLs is false when the agent runs without ACLs (everyone may do
	// everything).
	ACLs bool `json:"acls"`
	// ID is the token's id, empty without a token.
	ID        string `json:"id,omitempty"`
	Anonymous bool   `json:"anonymous"`
	// Policy is none, read, write or operator.
	Policy string `json:"policy"`
	// Names and Groups are the prefixes in scope ("" is every name).
	Names   []string `json:"names"`
	Groups  []string `json:"groups"`
	Health  bool     `json:"health"`
	Metrics bool     `json:"metrics"`
}

// TokenSelf returns the policy of the client's own token (of the anonymous
// caller without one); an unknown token is ErrUnauthorized.
// GET /v1/acl/token/self.
func (c *Client) TokenSelf(ctx context.Context) (*TokenInfo, error) {
	var t TokenInfo
	if err := c.do(ctx, request{method: "GET", path: "/v1/acl/token/self"}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
