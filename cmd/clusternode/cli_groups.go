package main

import (
	"context"
	"io"
	"strconv"

	"github.com/roster-dev/roster/api"
)

// cliGroups lists the cluster-wide groups, reading every page.
func cliGroups(ctx context.Context, c *api.Client, o *cliOpts, _ []string, w io.Writer) error {
	groups, err := c.Groups().ListAll(ctx, o.prefix)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, groups)
	}
	rows := make([][]string, len(groups))
	for i, g := range groups {
		rows[i] = []string{g.Name, strconv.Itoa(g.Members), strconv.Itoa(g.Local)}
	}
	return table(w, "GROUP\tMEMBERS\tLOCAL", rows)
}

// cliGroupMembers lists one group's members (up to the agent's maximum
// page, 10000).
func cliGroupMembers(ctx context.Context, c *api.Client, o *cliOpts, group string, w io.Writer) error {
	members, _, err := c.Groups().Members(ctx, group, maxListLimit)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, members)
	}
	rows := make([][]string, len(members))
	for i, m := range members {
		rows[i] = []string{string(m.PID), string(m.Node), strconv.Itoa(m.Count), string(m.Meta)}
	}
	return table(w, "PID\tNODE\tCOUNT\tMETA", rows)
}
