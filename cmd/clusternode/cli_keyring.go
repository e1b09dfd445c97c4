package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// cliKeyring runs `clusternode keyring list | install KEY | use KEY |
// remove KEY`. KEY is the base64 key keygen prints, "-" to read it from
// stdin, or @FILE to read it from a file (both keep it out of ps).
func cliKeyring(ctx context.Context, c *apiClient, o *cliOpts, args []string, w io.Writer) error {
	if len(args) == 0 {
		return usagef("keyring: want list, install KEY, use KEY or remove KEY")
	}
	op := args[0]
	var ans keyringAnswer
	switch {
	case op == "list" && len(args) == 1:
		if err := c.call(ctx, "GET", "/v1/operator/keyring", nil, &ans); err != nil {
			return err
		}
	case (op == "install" || op == "use" || op == "remove") && len(args) == 2:
		key, err := cliReadKey(args[1], os.Stdin)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"op": op, "key": key})
		err = c.call(ctx, "POST", "/v1/operator/keyring", strings.NewReader(string(body)), &ans)
		var re *remoteError
		if errors.As(err, &re) && re.Body.Code == "keyring_failed" {
			_ = printKeyring(w, o, ans)
		}
		if err != nil {
			return err
		}
	default:
		return usagef("keyring: want list, install KEY, use KEY or remove KEY")
	}
	return printKeyring(w, o, ans)
}

func printKeyring(w io.Writer, o *cliOpts, ans keyringAnswer) error {
	if o.json {
		return printJSON(w, ans.Nodes)
	}
	var rows [][]string
	for _, r := range ans.Nodes {
		status := "ok"
		if r.Error != "" {
			status = r.Error
		}
		keys := strings.Join(r.Keys, ", ")
		if len(r.Keys) > 0 {
			keys += " (first is primary)"
		}
		rows = append(rows, []string{string(r.Node), keys, status})
	}
	return table(w, "NODE\tKEY IDS\tSTATUS", rows)
}

// cliReadKey returns the key argument: itself, stdin for "-", a file's
// content for @FILE.
func cliReadKey(arg string, stdin io.Reader) (string, error) {
	switch {
	case arg == "-":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("keyring: reading the key from stdin: %w", err)
		}
		return strings.TrimSpace(line), nil
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return "", fmt.Errorf("keyring: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return arg, nil
}
