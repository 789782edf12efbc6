package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one subcommand and returns the exit code. ctx ends on SIGINT or
// SIGTERM; release restores the default signal handling, so that a second
// signal kills the process while it shuts down.
func run(ctx context.Context, release func(), args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd != "serve" {
		// serve drains requests before it releases; the other commands
		// stop at the first signal, and a second one kills the process.
		defer context.AfterFunc(ctx, release)()
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, release, args, stderr)
	case "import":
		err = importCmd(ctx, args, stdin, stdout, stderr)
	case "export":
		err = exportCmd(ctx, args, stdout, stderr)
	case "check":
		err = checkCmd(ctx, args, stdout, stderr)
	case "version":
		_, err = fmt.Fprintln(stdout, versionString())
	case "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "troved: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("troved: usage")

func usage(w io.Writer) {
	fmt.Fprint(w, `troved: the Trove daemon

usage:
  troved [serve] [--addr 127.0.0.1:3000] [--data ./data] [--storage NAME] [--config FILE]
  troved import [--batch 1000] [store flags] FILE|-    NDJSON events in, batched
  troved export [--from POSITION] [store flags]        NDJSON events out, in position order
  troved check [store flags]                           verify the stored data; exit 1 on damage
  troved version

store flags: --data DIR --storage NAME --config FILE
Run "troved COMMAND -h" for a command's flags.
`)
}
