package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roster-dev/roster/api"
)

// cliCommand is one client subcommand: it parses its own flags on top of
// the shared ones (-http-addr, -token, TLS, -json, -timeout), then talks
// to the agent through the api package.
type cliCommand struct {
	summary string
	// args names the positional arguments, for usage.
	args string
	// flags adds command-specific flags.
	flags func(fs *flag.FlagSet, o *cliOpts)
	run   func(ctx context.Context, c *api.Client, o *cliOpts, args []string, stdout io.Writer) error
	// long commands run until interrupted: -timeout bounds each request
	// they make, not the command.
	long bool
}

// cliOpts are the parsed flags of a client command.
type cliOpts struct {
	httpAddr   string
	token      string
	tls        api.TLSConfig
	json       bool
	prefix     string
	consistent bool
	limit      int    // names: one page of this many (0: every page)
	after      string // names: start after this name (a page's next)
	index      string
	meta       string // campaign: JSON stored with the name
	timeout    time.Duration
}

var cliCommands = map[string]cliCommand{
	"status":  {summary: "show this node and the cluster", run: cliStatus},
	"members": {summary: "list cluster members, or a process group's members", args: "[GROUP]", run: cliMembers},
	"groups": {summary: "list cluster-wide process groups", run: cliGroups, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.StringVar(&o.prefix, "prefix", "", "only groups starting with this")
	}},
	"names": {summary: "list global names", run: cliNames, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.StringVar(&o.prefix, "prefix", "", "only names starting with this")
		fs.BoolVar(&o.consistent, "consistent", false, "leader-verified read (each page is one)")
		fs.IntVar(&o.limit, "limit", 0, "print one page of at most this many names (1..10000) and the cursor of the next; default: every page")
		fs.StringVar(&o.after, "after", "", "start after this name (the cursor -limit printed)")
	}},
	"whereis": {summary: "look up a global name", args: "NAME", run: cliWhereis, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.BoolVar(&o.consistent, "consistent", false, "leader-verified read")
	}},
	"send": {summary: "send a JSON message to a global name", args: "NAME JSON", run: cliSend},
	"call": {summary: "call a global name with a JSON request and print the reply", args: "NAME JSON", run: cliCall},
	"watch": {summary: "stream global name events", run: cliWatch, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.StringVar(&o.prefix, "prefix", "", "only names starting with this")
		fs.StringVar(&o.index, "index", "", "resume after this event id (I.n) or raft index (I)")
	}},
	"health": {summary: "exit 0 when the node serves, 1 otherwise", run: cliHealth},
	"keyring": {summary: "list, install, use or remove cluster keys on every node (operator; KEY is base64, - for stdin or @FILE)",
		args: "list|install|use|remove [KEY]", run: cliKeyring},
}

// runCLI parses a client command's flags (each also from CLUSTERNODE_*,
// e.g. CLUSTERNODE_HTTP_ADDR; the token also from ROSTER_TOKEN) and runs
// it.
func runCLI(ctx context.Context, name string, c cliCommand, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o := &cliOpts{}
	fs := flag.NewFlagSet("clusternode "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.httpAddr, "http-addr", defaultHTTPAddr, "agent HTTP address, HOST:PORT or http(s)://HOST:PORT")
	fs.StringVar(&o.token, "token", "", "ACL token (default: $"+api.EnvToken+")")
	fs.StringVar(&o.tls.CAFile, "ca-file", "", "PEM CA bundle to verify the agent's HTTPS certificate (implies https)")
	fs.StringVar(&o.tls.CertFile, "client-cert", "", "PEM client certificate, when the agent asks for one")
	fs.StringVar(&o.tls.KeyFile, "client-key", "", "PEM key of -client-cert")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts instead of tables")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "request timeout (not for watch)")
	if c.flags != nil {
		c.flags(fs, o)
	}
	pos, err := parseFlags(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: clusternode %s [flags] %s\n  %s\n", name, c.args, c.summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	if !argsFit(c.args, len(pos)) {
		return usagef("usage: clusternode %s [flags] %s", name, c.args)
	}
	if o.token == "" {
		o.token = getenv(api.EnvToken)
	}
	client, err := api.NewClient(&api.Config{Address: o.httpAddr, Token: o.token, TLS: o.tls})
	if err != nil {
		return usagef("%v", err)
	}
	if name != "watch" && !c.long {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return c.run(ctx, client, o, pos, stdout)
}

// argsFit reports whether n positional arguments fit the usage args
// ("NAME JSON"; one in brackets, "[GROUP]", is optional).
func argsFit(args string, n int) bool {
	required, optional := 0, 0
	for _, f := range strings.Fields(args) {
		if strings.HasPrefix(f, "[") {
			optional++
		} else {
			required++
		}
	}
	return n >= required && n <= required+optional
}

// printJSON prints v indented, with the control characters JSON leaves
// raw escaped (see terminal.go).
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", safeJSON(b))
	return err
}

// table prints rows under a header, aligned; every cell is made safe for
// a terminal first.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = safeText(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
