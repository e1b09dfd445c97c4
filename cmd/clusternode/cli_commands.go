package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The client subcommands. Each prints a table for people or, with -json,
// the agent's JSON answer.

// wireStatus mirrors status with PIDs and ids as plain strings.
type wireStatus struct {
	Node        string       `json:"node"`
	Incarnation uint64       `json:"incarnation,string"`
	Version     string       `json:"version"`
	Leader      string       `json:"leader"`
	Raft        raftStatus   `json:"raft"`
	Voters      []string     `json:"voters"`
	Members     []wireMember `json:"members"`
}

type wireMember struct {
	Node        string `json:"node"`
	Addr        string `json:"addr"`
	State       string `json:"state"`
	Role        string `json:"role"`
	Incarnation uint64 `json:"incarnation,string,omitempty"`
}

// wireName is a registration as the API prints it.
type wireName struct {
	Name  string          `json:"name"`
	PID   string          `json:"pid"`
	Node  string          `json:"node"`
	Meta  json.RawMessage `json:"meta,omitempty"`
	Fence uint64          `json:"fence"`
	Index uint64          `json:"index,omitempty"`
	Stale bool            `json:"stale,omitempty"`
}

func cliStatus(ctx context.Context, c *apiClient, o *cliOpts, _ []string, w io.Writer) error {
	var st wireStatus
	if err := c.call(ctx, "GET", "/v1/status", nil, &st); err != nil {
		return err
	}
	if o.json {
		return printJSON(w, st)
	}
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	return table(w, "FIELD\tVALUE", [][]string{
		{"node", st.Node},
		{"incarnation", strconv.FormatUint(st.Incarnation, 10)},
		{"version", st.Version},
		{"leader", leader},
		{"raft state", st.Raft.State},
		{"raft term", strconv.FormatUint(st.Raft.Term, 10)},
		{"raft last index", strconv.FormatUint(st.Raft.LastIndex, 10)},
		{"raft applied index", strconv.FormatUint(st.Raft.AppliedIndex, 10)},
		{"voters", strings.Join(st.Voters, ", ")},
		{"members", strconv.Itoa(len(st.Members))},
	})
}

func cliMembers(ctx context.Context, c *apiClient, o *cliOpts, _ []string, w io.Writer) error {
	var st wireStatus
	if err := c.call(ctx, "GET", "/v1/status", nil, &st); err != nil {
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
		rows[i] = []string{m.Node, m.Addr, m.State, m.Role, leader}
	}
	return table(w, "NODE\tADDRESS\tSTATE\tROLE\t", rows)
}

func cliNames(ctx context.Context, c *apiClient, o *cliOpts, _ []string, w io.Writer) error {
	q := url.Values{}
	q.Set("prefix", o.prefix)
	if o.consistent {
		q.Set("consistent", "1")
	}
	var out struct {
		Names []wireName `json:"names"`
	}
	if err := c.call(ctx, "GET", "/v1/names?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if o.json {
		return printJSON(w, out.Names)
	}
	rows := make([][]string, len(out.Names))
	for i, n := range out.Names {
		rows[i] = []string{n.Name, n.PID, n.Node, strconv.FormatUint(n.Fence, 10), string(n.Meta)}
	}
	return table(w, "NAME\tPID\tNODE\tFENCE\tMETA", rows)
}

func cliWhereis(ctx context.Context, c *apiClient, o *cliOpts, args []string, w io.Writer) error {
	path := "/v1/names/" + url.PathEscape(args[0])
	if o.consistent {
		path += "?consistent=1"
	}
	var n wireName
	if err := c.call(ctx, "GET", path, nil, &n); err != nil {
		return err
	}
	if o.json {
		return printJSON(w, n)
	}
	return table(w, "NAME\tPID\tNODE\tFENCE\tMETA", [][]string{{n.Name, n.PID, n.Node, strconv.FormatUint(n.Fence, 10), string(n.Meta)}})
}

func cliSend(ctx context.Context, c *apiClient, o *cliOpts, args []string, w io.Writer) error {
	if !json.Valid([]byte(args[1])) {
		return usagef("send: %q is not valid JSON (quote strings: '\"hi\"')", args[1])
	}
	var out struct {
		PID   string `json:"pid"`
		Fence uint64 `json:"fence"`
	}
	path := "/v1/names/" + url.PathEscape(args[0]) + "/messages"
	if err := c.call(ctx, "POST", path, strings.NewReader(args[1]), &out); err != nil {
		return err
	}
	if o.json {
		return printJSON(w, out)
	}
	_, err := fmt.Fprintf(w, "sent to %s (fence %d)\n", out.PID, out.Fence)
	return err
}

func cliHealth(ctx context.Context, c *apiClient, o *cliOpts, _ []string, w io.Writer) error {
	var out map[string]any
	if err := c.call(ctx, "GET", "/v1/health", nil, &out); err != nil {
		if o.json {
			_ = printJSON(w, map[string]any{"healthy": false, "error": err.Error()})
		} else {
			fmt.Fprintln(w, "unhealthy:", err)
		}
		return exitCode(1)
	}
	if o.json {
		return printJSON(w, map[string]any{"healthy": true, "node": out["node"]})
	}
	_, err := fmt.Fprintln(w, "healthy")
	return err
}

// cliWatch prints events until the stream ends or ctx is done (Ctrl-C).
func cliWatch(ctx context.Context, c *apiClient, o *cliOpts, _ []string, w io.Writer) error {
	q := url.Values{}
	q.Set("prefix", o.prefix)
	if o.index != "" {
		q.Set("index", o.index)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/watch?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cannot reach the agent: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		re := &remoteError{Status: resp.StatusCode}
		_ = json.NewDecoder(resp.Body).Decode(&re.Body)
		return re
	}
	if !o.json {
		fmt.Fprintln(w, "INDEX\tEVENT\tNAME\tPID\tREASON")
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if err := printEvent(w, data, o.json); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

func printEvent(w io.Writer, data string, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintln(w, data)
		return err
	}
	var ev struct {
		Type, Name, PID, Reason, Error string
		Index                          uint64
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return fmt.Errorf("bad event from the agent: %w", err)
	}
	if ev.Error != "" {
		return fmt.Errorf("watch ended by the agent: %s", ev.Error)
	}
	_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", ev.Index, ev.Type, ev.Name, ev.PID, ev.Reason)
	return err
}
