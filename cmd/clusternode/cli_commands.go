package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/roster-dev/roster/api"
)

// The client subcommands. Each prints a table for people or, with -json,
// the agent's answer as JSON.

func cliStatus(ctx context.Context, c *api.Client, o *cliOpts, _ []string, w io.Writer) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, st)
	}
	leader := string(st.Leader)
	if leader == "" {
		leader = "(none)"
	}
	voters := make([]string, len(st.Voters))
	for i, v := range st.Voters {
		voters[i] = string(v)
	}
	return table(w, "FIELD\tVALUE", [][]string{
		{"node", string(st.Node)},
		{"incarnation", strconv.FormatUint(st.Incarnation, 10)},
		{"version", st.Version},
		{"leader", leader},
		{"raft state", st.Raft.State},
		{"raft term", strconv.FormatUint(st.Raft.Term, 10)},
		{"raft last index", strconv.FormatUint(st.Raft.LastIndex, 10)},
		{"raft applied index", strconv.FormatUint(st.Raft.AppliedIndex, 10)},
		{"voters", strings.Join(voters, ", ")},
		{"members", strconv.Itoa(len(st.Members))},
	})
}

func cliMembers(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	if len(args) == 1 {
		return cliGroupMembers(ctx, c, o, args[0], w)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, st.Members)
	}
	rows := make([][]string, len(st.Members))
	for i, m := range st.Members {
		leader := ""
		if m.Node == st.Leader {
			leader = "leader"
		}
		rows[i] = []string{string(m.Node), m.Addr, m.State, m.Role, leader}
	}
	return table(w, "NODE\tADDRESS\tSTATE\tROLE\t", rows)
}

// cliNames lists every name, reading the agent's pages in turn.
// cliNames prints every page of names, or with -limit one page and the
// command that prints the next.
func cliNames(ctx context.Context, c *api.Client, o *cliOpts, _ []string, w io.Writer) error {
	lo := api.ListOptions{Prefix: o.prefix, Limit: o.limit, After: o.after, ReadOptions: api.ReadOptions{Consistent: o.consistent}}
	var names []api.Registration
	next := ""
	if o.limit > 0 {
		p, err := c.Names().List(ctx, lo)
		if err != nil {
			return err
		}
		names, next = p.Names, p.Next
	} else {
		var err error
		if names, err = c.Names().ListAll(ctx, lo); err != nil {
			return err
		}
	}
	if o.json {
		if o.limit > 0 {
			return printJSON(w, api.NamePage{Names: names, Next: next})
		}
		return printJSON(w, names)
	}
	rows := make([][]string, len(names))
	for i, n := range names {
		rows[i] = nameRow(n)
	}
	if err := table(w, "NAME\tPID\tNODE\tFENCE\tMETA", rows); err != nil {
		return err
	}
	if next != "" {
		_, err := fmt.Fprintf(w, "more: clusternode names -after %s\n", shellQuote(next))
		return err
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it. A name with
// unprintable characters is Go-quoted instead (escaped, never raw).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@") == "" {
		return s
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\\''`) + "'"
}

func nameRow(n api.Registration) []string {
	return []string{n.Name, string(n.PID), string(n.Node), strconv.FormatUint(n.Fence, 10), string(n.Meta)}
}

func cliWhereis(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	n, err := c.Names().Lookup(ctx, args[0], api.ReadOptions{Consistent: o.consistent})
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, n)
	}
	return table(w, "NAME\tPID\tNODE\tFENCE\tMETA", [][]string{nameRow(*n)})
}

func cliSend(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	if !json.Valid([]byte(args[1])) {
		return usagef("send: %q is not valid JSON (quote strings: '\"hi\"')", safeText(args[1]))
	}
	sent, err := c.Names().Send(ctx, args[0], json.RawMessage(args[1]))
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, sent)
	}
	_, err = fmt.Fprintf(w, "sent to %s (fence %d)\n", safeText(string(sent.PID)), sent.Fence)
	return err
}

// cliCall calls a global name; the agent waits up to -timeout for the
// reply (the request's own deadline is a little longer).
func cliCall(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	if !json.Valid([]byte(args[1])) {
		return usagef("call: %q is not valid JSON (quote strings: '\"hi\"')", safeText(args[1]))
	}
	timeout := min(o.timeout*9/10, maxCallTimeout) // answered before our own deadline
	reply, err := c.Names().Call(ctx, args[0], json.RawMessage(args[1]), timeout)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, reply)
	}
	_, err = fmt.Fprintln(w, safeText(string(reply)))
	return err
}

func cliHealth(ctx context.Context, c *api.Client, o *cliOpts, _ []string, w io.Writer) error {
	h, err := c.Health(ctx)
	if err != nil {
		if o.json {
			_ = printJSON(w, map[string]any{"healthy": false, "error": err.Error()})
		} else {
			fmt.Fprintln(w, "unhealthy:", safeText(err.Error()))
		}
		return exitCode(1)
	}
	if o.json {
		return printJSON(w, map[string]any{"healthy": true, "node": h.Node})
	}
	_, err = fmt.Fprintln(w, "healthy")
	return err
}

// cliWatch prints events until the stream ends or ctx is done (Ctrl-C).
func cliWatch(ctx context.Context, c *api.Client, o *cliOpts, _ []string, w io.Writer) error {
	events, err := c.Watch(ctx, api.WatchOptions{Prefix: o.prefix, Index: o.index})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if !o.json {
		fmt.Fprintln(w, "INDEX\tEVENT\tNAME\tPID\tREASON")
	}
	for ev := range events {
		if ev.Err != "" {
			return fmt.Errorf("watch ended: %s (resume with -index %s)", ev.Err, o.index)
		}
		o.index = ev.ID
		if err := printEvent(w, ev, o.json); err != nil {
			return err
		}
	}
	return nil
}

func printEvent(w io.Writer, ev api.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			ID string `json:"id"`
			api.Event
		}{ev.ID, ev})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", safeJSON(b))
		return err
	}
	_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", ev.Index, safeText(ev.Type), safeText(ev.Name), safeText(string(ev.PID)), safeText(ev.Reason))
	return err
}
