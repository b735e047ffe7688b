// Command server runs the HTTP service. Configuration comes from the
// environment and an optional YAML file named by CONFIG_FILE; see the
// internal/config package for the full list of settings.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"example.com/ginsvc/internal/activation"
	"example.com/ginsvc/internal/bootenv"
	"example.com/ginsvc/internal/config"
	"example.com/ginsvc/internal/probe"
	"example.com/ginsvc/internal/server"
	"example.com/ginsvc/internal/version"
)

// Exit statuses. Configuration and usage mistakes get their own status so
// supervisors and deploy scripts can tell "fix the settings" from "crashed".
const (
	exitFailure = 1
	exitConfig  = 2
)

// errUsage is returned after the flag parser has already told the user what
// was wrong, so main only needs to set the exit status.
var errUsage = errors.New("invalid command line")

// errHelp means usage was requested and printed; there is nothing to run.
var errHelp = errors.New("help requested")

func main() {
	err := run(context.Background(), os.Args, bootenv.LookupEnv, os.Stdout, os.Stderr, hooks{})
	if err == nil {
		return
	}
	msg, code := exitStatus(err)
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

// exitStatus maps an error from run to what main prints and its exit code.
func exitStatus(err error) (string, int) {
	var cfgErr *config.Error
	switch {
	case errors.As(err, &cfgErr):
		return "config error: " + cfgErr.Error(), exitConfig
	case errors.Is(err, errUsage):
		return "", exitConfig
	default:
		return "error: " + err.Error(), exitFailure
	}
}

// hooks let tests observe and steer run; production passes the zero value.
type hooks struct {
	// bind replaces net.Listen when the process is not socket-activated, so
	// tests can listen on an ephemeral port that PORT cannot express.
	bind func(network, address string) (net.Listener, error)
	// started is called once the server accepts connections, with the bound
	// address and the handler being served.
	started func(addr net.Addr, handler http.Handler)
}

// run starts the service and blocks until ctx is cancelled or SIGINT or
// SIGTERM arrives, then shuts down gracefully. A nil error means a clean
// shutdown.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer, h hooks) (err error) {
	// Registered first so a signal during startup still leads to an orderly
	// exit instead of the default abrupt termination.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts, err := parseFlags(args, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if opts.version {
		return printVersion(stdout)
	}
	if opts.healthcheck {
		// The image's HEALTHCHECK runs the binary it already ships, so no
		// second binary takes space in every image.
		if err := probe.Run(ctx, getenv); err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		return nil
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("loading config: %w", err)
	}
	// gin keeps its mode process-wide; it controls debug output and must be
	// set before the engine is built.
	gin.SetMode(cfg.GinMode)

	logOut, closeLog, err := openLog(cfg.LogFile, stdout)
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	defer func() {
		if cerr := closeLog(); cerr != nil && err == nil {
			err = fmt.Errorf("closing log file: %w", cerr)
		}
	}()
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With(slog.String("service", cfg.ServiceName))

	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering runtime metrics: %w", err)
		}
	}

	readiness := server.NewReadiness()
	info := version.Get()
	handler, err := server.New(server.Options{
		ServiceName: cfg.ServiceName,
		EnableCache: cfg.EnableCache,
		APITimeout:  cfg.APITimeout,
		Logger:      logger,
		Registry:    reg,
		Readiness:   readiness,
		Version:     info,
	})
	if err != nil {
		return fmt.Errorf("building router: %w", err)
	}

	ln, source, err := listen(getenv, cfg.Addr(), h.bind, logger)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	logger.Info("server started",
		slog.String("addr", ln.Addr().String()),
		slog.String("listener", source),
		slog.String("version", info.Version),
		slog.String("commit", info.Commit),
		slog.String("go_version", info.GoVersion),
		slog.String("gin_mode", cfg.GinMode),
		slog.Any("config", cfg),
	)
	readiness.MarkReady()
	if h.started != nil {
		h.started(ln.Addr(), handler)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	// Restore default signal handling: a second Ctrl-C or SIGTERM while
	// draining should terminate at once rather than be swallowed.
	stop()

	readiness.MarkDraining()
	logger.Info("shutdown started",
		slog.String("reason", context.Cause(ctx).Error()),
		slog.String("drain_delay", cfg.DrainDelay.String()),
		slog.String("timeout", cfg.ShutdownTimeout.String()),
	)
	start := time.Now()
	// Keep accepting while readiness reports draining, so a load balancer
	// polling /readyz moves traffic away before connections are refused.
	time.Sleep(cfg.DrainDelay)
	// The parent context is already cancelled; the drain gets its own budget.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		closeErr := srv.Close()
		logger.Error("shutdown timed out; open connections were closed",
			slog.String("timeout", cfg.ShutdownTimeout.String()))
		return fmt.Errorf("graceful shutdown did not finish within %s: %w",
			cfg.ShutdownTimeout, errors.Join(err, closeErr))
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	logger.Info("shutdown complete", slog.Float64("took_ms", float64(time.Since(start).Microseconds())/1000))
	return nil
}

// cliFlags are the few command-line switches; settings come from the environment.
type cliFlags struct {
	version     bool
	healthcheck bool
}

func parseFlags(args []string, stderr io.Writer) (opts cliFlags, err error) {
	name := "server"
	if len(args) > 0 {
		name = filepath.Base(args[0])
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&opts.version, "version", false, "print build information as JSON and exit")
	fs.BoolVar(&opts.healthcheck, "healthcheck", false, "GET /healthz of the running server and exit 0 if it answers 200, else 1")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [-version | -healthcheck]\n\n", name)
		fmt.Fprintf(fs.Output(), "Settings come from environment variables, optionally on top of the YAML file\n")
		fmt.Fprintf(fs.Output(), "named by CONFIG_FILE: PORT, LISTEN_ADDR, GIN_MODE, LOG_LEVEL, LOG_FILE,\n")
		fmt.Fprintf(fs.Output(), "ENABLE_CACHE, API_TIMEOUT_MS, SHUTDOWN_TIMEOUT, DRAIN_DELAY, SERVICE_NAME, DB_PASSWORD.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, errHelp
		}
		return opts, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return opts, errUsage
	}
	return opts, nil
}

func printVersion(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(version.Get()); err != nil {
		return fmt.Errorf("writing version: %w", err)
	}
	return nil
}

// openLog returns where logs go and how to release it. An unusable LOG_FILE
// is reported as a configuration error because only the settings can fix it.
func openLog(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, config.NewValueError("LOG_FILE", path, "cannot be opened for appending: "+err.Error(), err)
	}
	return f, f.Close, nil
}

// listen returns the socket handed over by systemd when the process was
// socket-activated, and otherwise binds addr.
func listen(getenv func(string) (string, bool), addr string, bind func(string, string) (net.Listener, error), logger *slog.Logger) (net.Listener, string, error) {
	n, err := activation.Count(getenv, os.Getpid())
	if err != nil {
		return nil, "", fmt.Errorf("checking for socket activation: %w", err)
	}
	if n > 0 {
		ln, err := activation.FileListener(activation.FirstFD)
		if err != nil {
			return nil, "", fmt.Errorf("using socket from systemd: %w", err)
		}
		if err := activation.Unsetenv(); err != nil {
			return nil, "", errors.Join(fmt.Errorf("clearing socket activation variables: %w", err), ln.Close())
		}
		if n > 1 {
			logger.Warn("systemd passed more than one socket; only the first is used", slog.Int("count", n))
		}
		return ln, "systemd", nil
	}

	if bind == nil {
		bind = net.Listen
	}
	ln, err := bind("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, "tcp", nil
}
