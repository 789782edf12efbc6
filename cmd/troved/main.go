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
	} else if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			usage(stdout)
			return 0
		case "-version", "--version":
			fmt.Fprintln(stdout, versionString())
			return 0
		}
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
		if len(args) > 0 && args[0] != "help" && commands[args[0]] != "" {
			// "troved help import" is "troved import --help".
			return run(ctx, release, []string{args[0], "--help"}, stdin, stdout, stdout)
		}
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
	case errors.As(err, new(*flagError)):
		return 2 // printed with the usage already
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("troved: usage")

// commands are troved's subcommands, with their line in the help.
var commands = map[string]string{
	"serve":   "serve the HTTP API and the console (the default command)",
	"import":  "load an export into the store (idempotent)",
	"export":  "write the store as an export: at rest, from a running daemon (--url), or salvaged (--salvage)",
	"check":   "verify the stored data; exit 1 on damage",
	"version": "print the version",
	"help":    "this list, or a command's flags (troved help COMMAND)",
}

func usage(w io.Writer) {
	fmt.Fprint(w, `troved: the Trove daemon and its tools

usage: troved [COMMAND] [flags]

commands:
`)
	for _, c := range []string{"serve", "import", "export", "check", "version", "help"} {
		fmt.Fprintf(w, "  %-8s %s\n", c, commands[c])
	}
	fmt.Fprint(w, `
Every command takes --help. The store flags of serve, import, export and check:
  --data DIR        data directory (default ./data)
  --storage NAME    one plugin for all three roles under --data (default storage-log)
  --config FILE     YAML or JSON config: storage, http, auth, limits
troved --version prints the version.
`)
}

// newFlagSet returns the flag set of a subcommand, whose --help prints
// its synopsis, what it does and its flags.
func newFlagSet(cmd, synopsis, what string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("troved "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: troved %s %s\n\n%s\n\nflags:\n", cmd, synopsis, what)
		fs.PrintDefaults()
	}
	return fs
}
