package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/joho/godotenv"
	"github.com/tldw-go/tldw"
)

// host is what a command may touch of the process: tests pass fakes.
type host struct {
	lookup func(string) (string, bool)
	stdout io.Writer
	stderr io.Writer
	// listening, when set, is told the address the server listens on (tests use port 0).
	listening func(addr string)
}

// options are the flags every command accepts.
type options struct {
	addr    string
	envFile string
}

// command runs one subcommand with its remaining arguments and returns the exit code.
type command func(ctx context.Context, h host, o options, args []string) int

var commands = map[string]command{
	"serve":        serve,
	"migrate":      migrate,
	"check-config": checkConfig,
	"gen-secret":   genSecret,
	"healthcheck":  healthcheck,
	"version":      version,
	"audit":        auditCmd,
	"user":         userCmd,
	"code":         codeCmd,
	"quota":        quotaCmd,
}

func run(ctx context.Context, args []string, h host) int {
	fs := flag.NewFlagSet("tldwd", flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	var o options
	fs.StringVar(&o.addr, "addr", "", "listen address (default $TLDW_ADDR or 127.0.0.1:8000)")
	fs.StringVar(&o.envFile, "env-file", "", "env file to load (default .env when present)")
	fs.Usage = func() {
		fmt.Fprintln(h.stderr, "usage: tldwd [--addr host:port] [--env-file path] [serve|migrate|check-config|gen-secret|healthcheck|version|audit|user|code|quota] ...")
		fs.PrintDefaults()
	}
	// Flags may come before or after the command name.
	if err := fs.Parse(args); err != nil {
		return 2
	}
	name, rest := "serve", fs.Args()
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	rest = fs.Args()
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(h.stderr, "tldwd: unknown command %q\n", name)
		fs.Usage()
		return 2
	}
	return cmd(ctx, h, o, rest)
}

// loadConfig reads the env file (if any) under the real environment and applies --addr.
func loadConfig(h host, o options) (tldw.Config, error) {
	path, required := o.envFile, true
	if path == "" {
		path, required = ".env", false
	}
	file, err := godotenv.Read(path)
	if err != nil && (required || !errors.Is(err, fs.ErrNotExist)) {
		return tldw.Config{}, fmt.Errorf("env file: %w", err)
	}
	lookup := func(k string) (string, bool) {
		if v, ok := h.lookup(k); ok {
			return v, true
		}
		v, ok := file[k]
		return v, ok
	}
	cfg, err := tldw.FromEnv(lookup)
	if err != nil {
		return cfg, err
	}
	if o.addr != "" {
		cfg.Addr = o.addr
	}
	return cfg, cfg.Validate()
}

// reopenOnHangup reopens the app's log files on SIGHUP, as logrotate's postrotate expects.
func reopenOnHangup(ctx context.Context, app *tldw.App, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := app.ReopenLogs(); err != nil {
					logger.Error("reopen logs", "err", err)
				}
			}
		}
	}()
}
