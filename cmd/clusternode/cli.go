package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// cliCommand is one client subcommand: it parses its own flags on top of
// the shared -http-addr and -json, then talks to the agent.
type cliCommand struct {
	summary string
	// args names the positional arguments, for usage.
	args string
	// flags adds command-specific flags.
	flags func(fs *flag.FlagSet, o *cliOpts)
	run   func(ctx context.Context, c *apiClient, o *cliOpts, args []string, stdout io.Writer) error
}

// cliOpts are the parsed flags of a client command.
type cliOpts struct {
	httpAddr   string
	json       bool
	prefix     string
	consistent bool
	index      string
	timeout    time.Duration
}

var cliCommands = map[string]cliCommand{
	"status":  {summary: "show this node and the cluster", run: cliStatus},
	"members": {summary: "list cluster members", run: cliMembers},
	"names": {summary: "list global names", run: cliNames, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.StringVar(&o.prefix, "prefix", "", "only names starting with this")
		fs.BoolVar(&o.consistent, "consistent", false, "leader-verified read")
	}},
	"whereis": {summary: "look up a global name", args: "NAME", run: cliWhereis, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.BoolVar(&o.consistent, "consistent", false, "leader-verified read")
	}},
	"send": {summary: "send a JSON message to a global name", args: "NAME JSON", run: cliSend},
	"watch": {summary: "stream global name events", run: cliWatch, flags: func(fs *flag.FlagSet, o *cliOpts) {
		fs.StringVar(&o.prefix, "prefix", "", "only names starting with this")
		fs.StringVar(&o.index, "index", "", "resume after this event id (I.n) or raft index (I)")
	}},
	"health": {summary: "exit 0 when the node serves, 1 otherwise", run: cliHealth},
}

// runCLI parses a client command's flags (each also from CLUSTERNODE_*,
// e.g. CLUSTERNODE_HTTP_ADDR) and runs it.
func runCLI(ctx context.Context, name string, c cliCommand, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o := &cliOpts{}
	fs := flag.NewFlagSet("clusternode "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.httpAddr, "http-addr", defaultHTTPAddr, "agent HTTP address, HOST:PORT or http://HOST:PORT")
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
	if want := len(strings.Fields(c.args)); len(pos) != want {
		return usagef("usage: clusternode %s [flags] %s", name, c.args)
	}
	client, err := newAPIClient(o.httpAddr)
	if err != nil {
		return err
	}
	client.token = getenv("ROSTER_TOKEN") // the ACL token, never on argv
	if name != "watch" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return c.run(ctx, client, o, pos, stdout)
}

// apiClient calls the agent's HTTP API.
type apiClient struct {
	base  string
	http  *http.Client
	token string // sent as Authorization: Bearer when set
}

// authorize adds the token and the JSON content type to a request.
func (c *apiClient) authorize(req *http.Request) {
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

func newAPIClient(addr string) (*apiClient, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, usagef("-http-addr %q: want HOST:PORT", addr)
	}
	return &apiClient{base: strings.TrimRight(u.String(), "/"), http: &http.Client{}}, nil
}

// remoteError is an error answer from the agent.
type remoteError struct {
	Status int
	Body   apiError
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Body.Error, e.Status, e.Body.Code)
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (c *apiClient) call(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the agent: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		re := &remoteError{Status: resp.StatusCode}
		if json.Unmarshal(raw, &re.Body) != nil || re.Body.Error == "" {
			re.Body = apiError{Error: strings.TrimSpace(string(raw)), Code: "http"}
		}
		return re
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// printJSON prints v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
