// Package api is a Go client for the HTTP API of a Roster agent
// (`clusternode agent`), for Go services that talk to a cluster without
// embedding a node, and for tools. It is modelled on hashicorp/consul's
// api package: a Config with DefaultConfig, a Client built by NewClient,
// and one method per endpoint, grouped by what it acts on:
//
//	c.Processes()  mailbox processes owned by the client: spawn, renew, kill, send, long-poll
//	c.Names()      cluster-wide names: register, lookup, unregister, list (paginated), send
//	c.Local()      node-scoped names and duplicate-key groups of the agent's node
//	c.Watch        name events as a Go channel, resumable by event id
//	c.Status, c.Members, c.Health
//	c.TokenSelf    what the client's ACL token may do
//
// Every call takes a context.Context and returns when it is done. Errors
// from the agent are *Error values that carry the API's machine code;
// compare them with errors.Is against the sentinels (ErrNameTaken,
// ErrNotFound, ...) and read data such as the current owner of a taken
// name with errors.As.
//
// A Client is safe for concurrent use by many goroutines.
//
// Usage:
//
//	c, err := api.NewClient(api.DefaultConfig()) // ROSTER_HTTP_ADDR, ROSTER_TOKEN
//	p, err := c.Processes().Spawn(ctx, 30*time.Second)
//	reg, err := c.Names().Register(ctx, "billing/leader", p.PID, nil)
//	var taken *api.Error
//	if errors.As(err, &taken) && errors.Is(err, api.ErrNameTaken) {
//		fmt.Println("owned by", taken.Owner.PID)
//	}
//	msgs, err := c.Processes().Receive(ctx, p.PID, api.ReceiveOptions{Wait: 10 * time.Second})
package api
