package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

// serve runs the daemon until ctx ends, then stops accepting connections,
// lets in-flight requests finish (streams are ended), shuts the store down
// (flushing it) and returns nil.
func serve(ctx context.Context, release func(), args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]",
		"Serves the HTTP API and the console on --addr over the configured store, until SIGINT or\n"+
			"SIGTERM: then it stops accepting, lets requests finish, flushes the store and exits 0.", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:3000", "listen `ADDRESS`")
	logLevel := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log `FORMAT`: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments (got %q)", errUsage, fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q", errUsage, *logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if *logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, hopts))
	}

	st, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	listen := *addr
	if !set["addr"] && st.file.HTTP.Addr != "" {
		listen = st.file.HTTP.Addr
	}

	if err := st.file.checkServe(); err != nil {
		return err
	}
	core, schemas, err := openInterruptible(ctx, st, log)
	if err != nil {
		return err
	}
	if st.known && !st.kind.persistent {
		log.Warn("troved: the storage keeps nothing across restarts", "storage", st.plugin)
	}

	l := st.file.Limits
	opts := l.apiOptions()
	opts.Tokens = st.file.Auth.Tokens
	opts.MetricsAuth = st.file.Auth.Metrics
	opts.Logger = log
	if schemas != nil {
		opts.SchemasChanged = schemas.save
	}
	api, err := httpapi.New(core, opts)
	if err != nil {
		_ = core.Shutdown(context.Background())
		return fmt.Errorf("troved: config: %w", err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: orDefault(l.ReadHeaderTimeout, defaultReadHeaderTimeout),
		ReadTimeout:       orDefault(l.ReadTimeout, defaultReadTimeout),
		IdleTimeout:       orDefault(l.IdleTimeout, defaultIdleTimeout),
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(api.StopStreams)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		_ = core.Shutdown(context.Background())
		return fmt.Errorf("troved: listen: %w", err)
	}
	if !api.AuthEnabled() && !isLoopback(ln.Addr()) {
		log.Warn("troved: listening on a non-loopback address without auth.tokens: anyone who can reach it can read and write", "addr", ln.Addr().String())
	}
	log.Info("troved: listening", "addr", ln.Addr().String(), "storage", st.plugin, "data", st.dataDir, "auth", api.AuthEnabled(), "version", versionString())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		_ = core.Shutdown(context.Background())
		return fmt.Errorf("troved: serve: %w", err)
	case <-ctx.Done():
	}
	release()
	log.Info("troved: shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), orDefault(l.ShutdownTimeout, defaultShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("troved: requests still running at the shutdown timeout were cut", "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("troved: serve", "err", err)
	}
	if err := core.Shutdown(sctx); err != nil {
		return fmt.Errorf("troved: shutting the store down: %w", err)
	}
	log.Info("troved: stopped")
	return nil
}

// openStore opens the core for st, and the schema file when the storage
// does not keep the schema registry itself.
func openStore(ctx context.Context, st settings, log *slog.Logger) (*trove.Core, *schemaFile, error) {
	if err := st.makeDataDir(); err != nil {
		return nil, nil, err
	}
	core, err := trove.Open(ctx, st.storage, trove.WithLogger(log))
	if err != nil {
		return nil, nil, fmt.Errorf("troved: open storage: %w", err)
	}
	schemas, err := openSchemaFile(ctx, core, st)
	if err != nil {
		_ = core.Shutdown(context.Background())
		return nil, nil, err
	}
	return core, schemas, nil
}

func isLoopback(a net.Addr) bool {
	host := a.String()
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	h, _, err := net.SplitHostPort(host)
	return err == nil && (strings.EqualFold(h, "localhost") || net.ParseIP(h).IsLoopback())
}

// quietLogger discards logs: the CLI subcommands report on stdout/stderr.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

// shutdownTimeout bounds the store's shutdown in the CLI subcommands.
const shutdownTimeout = time.Minute
