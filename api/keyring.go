package api

import "context"

// KeyringNode is one node's answer to a keyring operation.
type KeyringNode struct {
	Node string `json:"node"`
	// Keys are the node's key ids (8 bytes of each key's SHA-256,
	// base64), primary first, after the operation.
	Keys []string `json:"keys"`
	// Error is why the operation failed on that node ("" if it did not).
	Error string `json:"error,omitempty"`
}

type keyringAnswer struct {
	Nodes []KeyringNode `json:"nodes"`
}

// Keyring returns every live node's cluster keys. Operator only.
// GET /v1/operator/keyring.
func (c *Client) Keyring(ctx context.Context) ([]KeyringNode, error) {
	var a keyringAnswer
	if err := c.do(ctx, request{method: "GET", path: "/v1/operator/keyring"}, &a); err != nil {
		return nil, err
	}
	return a.Nodes, nil
}

// KeyringChange applies op ("install", "use" or "remove") with key (base64,
// as `clusternode keygen` prints it) on the agent's node and every live
// member. When any node fails, the error is an *Error with code
// "keyring_failed" naming them. Operator only. POST /v1/operator/keyring.
func (c *Client) KeyringChange(ctx context.Context, op, key string) ([]KeyringNode, error) {
	var a keyringAnswer
	body := map[string]string{"op": op, "key": key}
	if err := c.do(ctx, request{method: "POST", path: "/v1/operator/keyring", body: body}, &a); err != nil {
		return nil, err
	}
	return a.Nodes, nil
}
