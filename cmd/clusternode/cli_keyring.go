package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/roster-dev/roster/api"
)

// cliKeyring runs `clusternode keyring list | install KEY | use KEY |
// remove KEY`. KEY is the base64 key keygen prints, "-" to read it from
// stdin, or @FILE to read it from a file (both keep it out of ps).
func cliKeyring(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	if len(args) == 0 {
		return usagef("keyring: want list, install KEY, use KEY or remove KEY")
	}
	var nodes []api.KeyringNode
	var err error
	switch op := args[0]; {
	case op == "list" && len(args) == 1:
		nodes, err = c.Keyring(ctx)
	case (op == "install" || op == "use" || op == "remove") && len(args) == 2:
		key, kerr := cliReadKey(args[1], os.Stdin)
		if kerr != nil {
			return kerr
		}
		nodes, err = c.KeyringChange(ctx, op, key)
	default:
		return usagef("keyring: want list, install KEY, use KEY or remove KEY")
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, nodes)
	}
	var rows [][]string
	for _, r := range nodes {
		status := "ok"
		if r.Error != "" {
			status = r.Error
		}
		keys := strings.Join(r.Keys, ", ")
		if len(r.Keys) > 0 {
			keys += " (first is primary)"
		}
		rows = append(rows, []string{r.Node, keys, status})
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
