package main

import (
	"bufio"
	"bytes"
	"cmp"
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
	"time"

	"github.com/schollz/progressbar/v3"
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
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func closeStore(core *trove.Core, err *error) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if e := core.Shutdown(ctx); e != nil && *err == nil {
		*err = fmt.Errorf("troved: shutting the store down: %w", e)
	}
}

// importCmd reads NDJSON events (one event JSON per line, as export writes
// them; positions are ignored) and saves them in atomic batches. A line
// {"registeredSchema":{id,version,schema}} registers that schema (export
// writes the registry first). A retried import of the same lines is
// idempotent.
func importCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("troved import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	batch := fs.Int("batch", 1000, "events per atomic `batch`")
	progress := fs.String("progress", "auto", "progress bar: auto (when stdout is a terminal), always or never")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *batch < 1 {
		return fmt.Errorf("%w: troved import [flags] FILE|- (and --batch >= 1)", errUsage)
	}
	in, size := stdin, int64(-1)
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("troved: import: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in = f
	}
	st, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	core, err := openCLI(ctx, st)
	if err != nil {
		return err
	}
	defer closeStore(core, &err)
	// A read waiting on an idle pipe ends with ctx (SIGINT, SIGTERM).
	in = newCtxReader(ctx, in)

	showBar := *progress == "always" || *progress == "auto" && isTerminal(stdout)
	var bar *progressbar.ProgressBar
	if showBar {
		bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		in = io.TeeReader(in, bar)
	}
	start := time.Now()
	r := bufio.NewReaderSize(in, 1<<20)
	var (
		events  []trove.Event
		lines   []int // the line of each pending event
		line    int
		total   int
		schemas int
		flushed = func() error {
			if len(events) == 0 {
				return nil
			}
			if _, err := core.CreateEvents(ctx, events); err != nil {
				var be *trove.BatchError
				if errors.As(err, &be) && be.Index < len(lines) {
					return fmt.Errorf("troved: import: line %d: %w (the %d events before this batch are saved)", lines[be.Index], be.Err, total)
				}
				return fmt.Errorf("troved: import: batch ending at line %d: %w (the %d events before this batch are saved)", line, err, total)
			}
			total += len(events)
			events, lines = events[:0], lines[:0]
			return nil
		}
	)
	for {
		b, rerr := readLine(r)
		if len(b) > 0 {
			line++
			if isSchemaLine(b) {
				// Registered before the events after it, which may refer
				// to it: save the events before it first.
				if err := flushed(); err != nil {
					return err
				}
				var sl schemaLine
				if err := json.Unmarshal(b, &sl); err != nil || sl.RegisteredSchema == nil {
					return fmt.Errorf("troved: import: line %d: %w", line, cmp.Or(err, errors.New("registeredSchema is null")))
				}
				if _, err := core.RegisterSchema(ctx, *sl.RegisteredSchema); err != nil {
					return fmt.Errorf("troved: import: line %d: %w", line, err)
				}
				schemas++
			} else if len(bytes.TrimSpace(b)) > 0 {
				var e trove.Event
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("troved: import: line %d: %w", line, err)
				}
				e.Position = 0
				events = append(events, e)
				lines = append(lines, line)
				if len(events) == *batch {
					if err := flushed(); err != nil {
						return err
					}
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && ctx.Err() != nil {
			return fmt.Errorf("troved: import interrupted after %d events: %w", total, ctx.Err())
		}
		if rerr != nil {
			return fmt.Errorf("troved: import: line %d: %w", line+1, rerr)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("troved: import interrupted after %d events: %w", total, err)
		}
	}
	if err := flushed(); err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
	}
	fmt.Fprintf(stdout, "imported %d events in %s\n", total, time.Since(start).Round(time.Millisecond))
	if schemas > 0 {
		fmt.Fprintf(stdout, "registered %d schemas\n", schemas)
	}
	return nil
}

// schemaLine is the NDJSON line export writes for a registered schema.
type schemaLine struct {
	RegisteredSchema *trove.RegisteredSchema `json:"registeredSchema"`
}

// isSchemaLine reports whether an NDJSON line is a schemaLine: an object
// whose first key is registeredSchema (an event has no such key).
func isSchemaLine(b []byte) bool {
	b = bytes.TrimLeft(b, " \t")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t")
	return bytes.HasPrefix(b, []byte(`"registeredSchema"`))
}

// readLine returns the next line, without its newline, up to
// maxImportLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxImportLine {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxImportLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// exportCmd writes the registered schemas, one schemaLine each, then every
// event whose position is greater than --from, as NDJSON in position order.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("troved export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	from := fs.Uint64("from", 0, "export the events after this log `POSITION` (0: all)")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: troved export takes no arguments", errUsage)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	core, err := openCLI(ctx, st)
	if err != nil {
		return err
	}
	defer closeStore(core, &err)
	// A write to a consumer that stopped reading ends with ctx.
	w := bufio.NewWriterSize(&ctxWriter{ctx: ctx, w: stdout, done: make(chan error, 1)}, 1<<20)
	for _, rs := range core.Schemas() {
		b, err := json.Marshal(schemaLine{RegisteredSchema: &rs})
		if err != nil {
			return fmt.Errorf("troved: export: %w", err)
		}
		w.Write(append(b, '\n'))
	}
	write := func(e trove.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		_, err = w.Write(b)
		return err
	}
	if rp, ok := core.Events().(trove.Replayer); ok {
		err = rp.Replay(ctx, *from, write)
	} else {
		// Every backend answers this query in position order.
		var all []trove.Event
		all, err = core.QueryEvents(ctx, trove.EventQuery{AllVersions: true})
		for _, e := range all {
			if err != nil {
				break
			}
			if e.Position > *from {
				err = write(e)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("troved: export: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("troved: export: %w", err)
	}
	return nil
}

// checkCmd runs the storage's integrity check on the data at rest, where
// the storage's options (from --config, or --storage under --data) put it.
// storage-log and storage-json-file lock their directory: while a daemon
// has it open the check fails at once with trove.ErrLocked. storage-sqlite
// checks a consistent snapshot under SQLite's own locking, also while a
// daemon writes.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("troved check", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	// A check never creates a store.
	if _, err := os.Stat(where); err != nil {
		return fmt.Errorf("troved: check: no %s store at %s: %w", st.plugin, where, err)
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
