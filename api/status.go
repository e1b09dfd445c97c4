package api

import "context"

// Status returns the agent's view of itself and the cluster.
// GET /v1/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.do(ctx, request{method: "GET", path: "/v1/status"}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Members returns the cluster's members as the agent's gossip sees them
// (from GET /v1/status).
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	return st.Members, nil
}

// Health returns nil error when the agent serves: it is in a cluster with
// a known leader. An unhealthy agent is an *Error matching ErrUnavailable.
// GET /v1/health.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, request{method: "GET", path: "/v1/health"}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Live returns nil when the agent answers at all, leader or not (the
// liveness check; Health is readiness). GET /v1/health/live.
func (c *Client) Live(ctx context.Context) error {
	return c.do(ctx, request{method: "GET", path: "/v1/health/live"}, nil)
}
