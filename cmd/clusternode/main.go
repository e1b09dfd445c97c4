package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Once the first signal arrived, restore the default handling so that
	// a second one exits at once while the agent leaves the cluster.
	go func() {
		<-ctx.Done()
		stop()
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ec exitCode
		if !errors.As(err, &ec) {
			fmt.Fprintln(os.Stderr, "clusternode:", safeText(err.Error()))
		}
		os.Exit(exitStatus(err))
	}
}

// exitCode is an error that only sets the exit status (its message, if
// any, was already printed).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func exitStatus(err error) int {
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError is a bad command line or configuration.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const usage = `usage: clusternode <command> [flags]

commands:
  agent      run a node (see clusternode agent -h)
  status     show this node and the cluster
  members    list cluster members
  names      list global names [-prefix P]
  whereis    look up a global name: whereis NAME [-consistent]
  send       send JSON to a global name: send NAME JSON
  watch      stream global name events [-prefix P] [-index I]
  health     exit 0 when the node serves, 1 otherwise
  keygen     print a new cluster key (for -encrypt-file / CLUSTERNODE_ENCRYPT)
  tls        create a CA and certificates: tls ca create | tls cert create -server|-client
  version    print the version

Client commands take -http-addr (env CLUSTERNODE_HTTP_ADDR, default ` + defaultHTTPAddr + `)
and -json for machine-readable output.
`

// run is the testable main: it dispatches to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("missing command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "agent":
		return runAgent(ctx, rest, stdout, stderr, os.Getenv)
	case "keygen":
		return runKeygen(rest, stdout)
	case "tls":
		return runTLS(rest, stdout)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "clusternode %s\n", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if c, ok := cliCommands[cmd]; ok {
		return runCLI(ctx, cmd, c, rest, stdout, stderr, os.Getenv)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", cmd)
}
