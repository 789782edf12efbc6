package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/trovedb/trove"
	"golang.org/x/term"
)

// maxImportLine caps one NDJSON line of an import.
const maxImportLine = 32 << 20

// parseWithArgs parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseFlags parses args into fs. The flag package has printed a mistake
// and the usage by then, so run only sets the exit code of the error
// returned (a *flagError), and does not print it twice.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &flagError{err: err}
}

// flagError is a command-line mistake the flag package reported already.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func closeStore(core *trove.Core, err *error) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if e := core.Shutdown(ctx); e != nil && *err == nil {
		*err = fmt.Errorf("troved: shutting the store down: %w", e)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// checkCmd runs the storage's integrity check on the data at rest, where
// the storage's options (from --config, or --storage under --data) put it.
// storage-log and storage-json-file lock their directory: while a daemon
// has it open the check fails at once with trove.ErrLocked. storage-sqlite
// checks a consistent snapshot under SQLite's own locking, also while a
// daemon writes.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "[flags]",
		"Verifies the stored data: every checksum, header and index of storage-log, the files and\n"+
			"lines of storage-json-file, SQLite's integrity check and every file of storage-sqlite,\n"+
			"the positions, versions, rows, links, files and migrations of storage-postgres.\n"+
			"Exit 0 when sound, 1 on damage (a damaged index snapshot is repairable: the next open\n"+
			"rebuilds it). On a store a daemon holds it fails at once, naming the daemon's pid.", stderr)
	var sf storeFlags
	sf.register(fs)
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: troved check takes no arguments", errUsage)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	if !st.known || st.kind.check == nil {
		return fmt.Errorf("troved: check: storage %s has no integrity checker", st.plugin)
	}
	where := storeLocation(st)
	if st.kind.where != nil {
		where = st.kind.where(st.storage.Storage.Events.Options)
	} else if _, err := os.Stat(where); err != nil { // a check never creates a store
		return fmt.Errorf("troved: check: no %s store at %s: %w", st.plugin, where, err)
	} else if names, err := os.ReadDir(where); err == nil && len(names) == 0 {
		return fmt.Errorf("troved: check: no %s store at %s: the directory is empty", st.plugin, where)
	}
	summary, err := st.kind.check(ctx, st.storage.Storage.Events.Options)
	recordCheck(st.storage.Storage.Events.Options, summary, err, stderr)
	if err != nil {
		return fmt.Errorf("troved: check: %s: %w", where, err)
	}
	fmt.Fprintf(stdout, "%s: ok (%s)\n", where, summary)
	return nil
}

// storeLocation is where the event storage keeps its data: the directory
// or path its options name, else the data directory.
func storeLocation(st settings) string {
	var o struct {
		Directory string `json:"directory"`
		Path      string `json:"path"`
	}
	_ = json.Unmarshal(st.storage.Storage.Events.Options, &o)
	for _, p := range []string{o.Directory, o.Path} {
		if p != "" {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	return st.dataDir
}

// openInterruptible opens the store as openStore does. When ctx ends
// first (SIGINT, SIGTERM) it returns at once with ctx's error, also while
// a long recovery runs: the process then exits, abandoning that recovery
// as a crash would, which every persistent store survives. A store that
// opens after all (a caller in a test) is shut down in the background.
func openInterruptible(ctx context.Context, st settings, log *slog.Logger) (*trove.Core, *schemaFile, error) {
	type opened struct {
		core    *trove.Core
		schemas *schemaFile
		err     error
	}
	done := make(chan opened, 1)
	go func() {
		core, schemas, err := openStore(ctx, st, log)
		done <- opened{core, schemas, err}
	}()
	select {
	case o := <-done:
		return o.core, o.schemas, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.core != nil {
				var err error
				closeStore(o.core, &err)
			}
		}()
		return nil, nil, fmt.Errorf("troved: interrupted while opening the store: %w", ctx.Err())
	}
}

// openCLI opens the store for import and export (see openInterruptible).
func openCLI(ctx context.Context, st settings) (*trove.Core, error) {
	core, _, err := openInterruptible(ctx, st, quietLogger())
	return core, err
}

// ctxReader is a reader whose Read returns ctx's error as soon as ctx
// ends, even while the underlying Read blocks (an idle pipe or terminal).
// Each underlying Read runs in a goroutine into the reader's own buffer;
// one abandoned by ctx ends when that Read returns.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	res  chan readResult // the pending read's outcome; buffered
	busy bool            // a read is pending
}

// ctxWriter is a writer whose Write returns ctx's error as soon as ctx
// ends, even while the underlying Write blocks (a pipe whose reader
// stopped reading). Each Write runs in a goroutine; the caller must not
// reuse p after an early return, which ends the command anyway.
type ctxWriter struct {
	ctx  context.Context
	w    io.Writer
	done chan error // the pending write's outcome; buffered
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	go func() {
		_, err := c.w.Write(p)
		c.done <- err
	}()
	select {
	case err := <-c.done:
		if err != nil {
			return 0, err
		}
		return len(p), nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

type readResult struct {
	buf []byte
	err error
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	return &ctxReader{ctx: ctx, r: r, res: make(chan readResult, 1)}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if !c.busy {
		c.busy = true
		buf := make([]byte, len(p)) // p may be reused once Read returns early
		go func() {
			n, err := c.r.Read(buf)
			c.res <- readResult{buf[:n], err}
		}()
	}
	select {
	case r := <-c.res:
		c.busy = false
		return copy(p, r.buf), r.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

// versionString is the module version and VCS state the binary was built
// from.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "troved (unknown version)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	s := "troved " + v + " " + bi.GoVersion
	var rev, modified, at string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value
		case "vcs.time":
			at = kv.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " commit " + rev
		if modified == "true" {
			s += "+dirty"
		}
		if at != "" {
			s += " " + at
		}
	}
	return s
}
