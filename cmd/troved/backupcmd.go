package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/trovedb/trove/backup"
	"github.com/trovedb/trove/engine"
	"github.com/trovedb/trove/plugins/jsonfile"
	"github.com/trovedb/trove/plugins/sqlite"
)

// importCmd loads an export (backup/FORMAT.md; also version-1 streams of
// events and registeredSchema lines) into the store, events in atomic
// batches. It is idempotent: what the store holds already is counted apart.
func importCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("import", "[flags] FILE|-",
		"Loads an export (troved export, GET /api/export) into the store: schemas, files, events in\n"+
			"atomic batches, links. Loading the same export again stores nothing new.", stderr)
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
		f, err := openCtx(ctx, pos[0])
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
	var bar *progressbar.ProgressBar
	if *progress == "always" || *progress == "auto" && isTerminal(stdout) {
		bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			// No ticker goroutine for a stream of unknown length: the
			// library's ticker reads the bar's state without its lock
			// (a data race); the spinner turns with each read instead.
			progressbar.OptionSetSpinnerChangeInterval(0),
		)
		in = io.TeeReader(in, bar)
	}
	start := time.Now()
	stats, err := backup.Import(ctx, core, in, backup.ImportOptions{Batch: *batch})
	if bar != nil {
		_ = bar.Finish()
	}
	fmt.Fprintf(stdout, "imported %d events (%d already present), %d files (%d already present), %d schemas (%d already present), %d links (%d already present) in %s\n",
		stats.Events, stats.EventsPresent, stats.Files, stats.FilesPresent, stats.Schemas, stats.SchemasPresent, stats.Links, stats.LinksPresent,
		time.Since(start).Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("troved: import interrupted (what is reported above is saved): %w", ctx.Err())
		}
		return fmt.Errorf("troved: import: %w", err)
	}
	return nil
}

// exportCmd writes the store as an export (backup/FORMAT.md): from the
// store at rest, from a running daemon (--url, an online backup), or, with
// --salvage, every intact part of a store that no longer opens.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("export", "[flags]",
		"Writes the whole store to stdout as an export: schemas, every event version in position order,\n"+
			"file bytes, added links. troved import loads it into an empty store as it was.\n"+
			"With --url it reads a running daemon (an online backup: the events committed when it\n"+
			"starts); with --salvage it reads what is intact in a damaged store that no longer opens.", stderr)
	var sf storeFlags
	sf.register(fs)
	from := fs.Uint64("from", 0, "export the events after this log `POSITION` (0: all)")
	daemon := fs.String("url", "", "read a running daemon at this `URL` (http://host:3000) through GET /api/export")
	token := fs.String("token", "", "bearer `TOKEN` for --url (default: $TROVE_TOKEN)")
	salvage := fs.Bool("salvage", false, "read every intact record of a damaged storage-log, storage-json-file or storage-sqlite store; what is skipped goes to stderr")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: troved export takes no arguments", errUsage)
	}
	// A write to a consumer that stopped reading ends with ctx.
	out := &ctxWriter{ctx: ctx, w: stdout, done: make(chan error, 1)}
	if *daemon != "" {
		if *salvage {
			return fmt.Errorf("%w: troved export: --url and --salvage do not go together", errUsage)
		}
		return exportURL(ctx, *daemon, cmpOr(*token, os.Getenv("TROVE_TOKEN")), *from, out, stderr)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	if *salvage {
		if *from != 0 {
			return fmt.Errorf("%w: troved export: --salvage reads the whole store (no --from)", errUsage)
		}
		return salvageStore(ctx, st, out, stderr)
	}
	core, err := openCLI(ctx, st)
	if err != nil {
		return err
	}
	defer closeStore(core, &err)
	stats, err := backup.Export(ctx, core, out, backup.ExportOptions{From: *from})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("troved: export interrupted: the output is incomplete: %w", ctx.Err())
		}
		return fmt.Errorf("troved: export: %w", err)
	}
	fmt.Fprintf(stderr, "exported %d events (positions %d to %d), %d files, %d schemas, %d links\n",
		stats.Events, *from+1, stats.Last, stats.Files, stats.Schemas, stats.Links)
	if stats.FilesMissing > 0 {
		fmt.Fprintf(stderr, "%d files events name are missing from file storage: their metadata is in the events, their bytes are not\n", stats.FilesMissing)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exportURL streams GET /api/export of the daemon at base to w, and fails
// when the stream breaks off before its end line.
func exportURL(ctx context.Context, base, token string, from uint64, w io.Writer, stderr io.Writer) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: troved export: --url must be http://host:port or https://host:port, got %q", errUsage, base)
	}
	u = u.JoinPath("/api/export")
	if from > 0 {
		u.RawQuery = "from=" + strconv.FormatUint(from, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("troved: export: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("troved: export: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("troved: export: %s answered %s: %s", u.Redacted(), res.Status, strings.TrimSpace(string(body)))
	}
	tail := &tailWriter{}
	n, err := io.Copy(io.MultiWriter(w, tail), res.Body)
	if err != nil {
		return fmt.Errorf("troved: export: the stream broke off after %d bytes: %w", n, err)
	}
	if !tail.ended() {
		return fmt.Errorf("troved: export: the stream ended after %d bytes without its end line: the export is incomplete", n)
	}
	fmt.Fprintf(stderr, "exported %d bytes from %s\n", n, u.Redacted())
	return nil
}

// tailWriter keeps the last line written, to check the stream's end line.
type tailWriter struct{ last []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.last = append(t.last, p...)
	if i := strings.LastIndexByte(strings.TrimRight(string(t.last), "\n"), '\n'); i >= 0 {
		t.last = t.last[i+1:]
	}
	return len(p), nil
}

func (t *tailWriter) ended() bool { return strings.HasPrefix(string(t.last), `{"end":`) }

// salvageStore writes every intact part of the store st names, which need
// not open, as an export, and lists what it skipped on stderr.
func salvageStore(ctx context.Context, st settings, w io.Writer, stderr io.Writer) error {
	dir := storeLocation(st)
	ew := backup.NewWriter(w)
	if err := ew.Header(0, 0); err != nil {
		return err
	}
	var c backup.Counts
	var skipped []string
	switch st.plugin {
	case engine.Name:
		rep, err := engine.Salvage(ctx, dir, ew.Sink(&c))
		if err != nil {
			return fmt.Errorf("troved: export --salvage: %w", err)
		}
		skipped = rep.Skipped
	case jsonfile.Name:
		rep, err := jsonfile.Salvage(ctx, dir, ew.Sink(&c))
		if err != nil {
			return fmt.Errorf("troved: export --salvage: %w", err)
		}
		skipped = rep.Skipped
	case sqlite.Name:
		rep, err := sqlite.Salvage(ctx, dir, ew.Sink(&c))
		if err != nil {
			return fmt.Errorf("troved: export --salvage: %w", err)
		}
		skipped = rep.Skipped
	default:
		return fmt.Errorf("%w: troved export --salvage reads storage-log, storage-json-file and storage-sqlite stores, not %s", errUsage, st.plugin)
	}
	if err := ew.End(c.Schemas, c.Events, c.Files, c.Links, c.Last); err != nil {
		return err
	}
	if err := ew.Flush(); err != nil {
		return fmt.Errorf("troved: export --salvage: %w", err)
	}
	fmt.Fprintf(stderr, "salvaged %d events (the last at position %d), %d files, %d schemas, %d links from %s\n",
		c.Events, c.Last, c.Files, c.Schemas, c.Links, dir)
	if len(skipped) == 0 {
		fmt.Fprintln(stderr, "nothing was skipped")
	}
	for _, s := range skipped {
		fmt.Fprintln(stderr, "skipped: "+s)
	}
	return nil
}
