package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
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
	"media":        mediaCmd,
}

func run(ctx context.Context, args []string, h host) int {
	fs := flag.NewFlagSet("tldwd", flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	var o options
	fs.StringVar(&o.addr, "addr", "", "listen address (default $TLDW_ADDR or 127.0.0.1:8000)")
	fs.StringVar(&o.envFile, "env-file", "", "env file to load (default .env when present)")
	fs.Usage = func() {
		fmt.Fprintln(h.stderr, "usage: tldwd [--addr host:port] [--env-file path] [serve|migrate|check-config|gen-secret|healthcheck|version|audit|user|code|quota|media] ...")
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
// It prints a warning for each unknown or unsupported key and each [tldw.Config.Warnings]
// of a valid configuration, so that serve shows them at start as check-config does.
func loadConfig(h host, o options) (tldw.Config, error) {
	path, required := o.envFile, true
	if path == "" {
		path, required = ".env", false
	}
	file, err := readEnvFile(path)
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
	for _, w := range tldw.EnvWarnings(lookup, slices.Sorted(maps.Keys(file))) {
		fmt.Fprintf(h.stderr, "warning: %s\n", w)
	}
	cfg, err := tldw.FromEnv(lookup)
	if err != nil {
		return cfg, err
	}
	if o.addr != "" {
		cfg.Addr = o.addr
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(h.stderr, "warning: %s\n", w)
	}
	return cfg, nil
}

// readEnvFile parses a .env file with godotenv. A parse error names the line (and the key
// it belongs to) but never the text: godotenv's own message quotes the rest of the file,
// secrets included.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env, err := godotenv.UnmarshalBytes(b)
	if err == nil {
		return env, nil
	}
	// The bad line is the one after the longest prefix of lines that still parses.
	lines := strings.SplitAfter(string(b), "\n")
	ok := 0
	for k := len(lines) - 1; k > 0; k-- {
		if _, err := godotenv.Unmarshal(strings.Join(lines[:k], "")); err == nil {
			ok = k
			break
		}
	}
	if key := envKey(lines[ok]); key != "" {
		return nil, fmt.Errorf("%s: line %d (%s) cannot be parsed; check its quoting", path, ok+1, key)
	}
	for i := ok - 1; i >= 0; i-- {
		if key := envKey(lines[i]); key != "" {
			return nil, fmt.Errorf("%s: line %d is not KEY=VALUE (it follows %s on line %d; a value must stay on one line unless quoted)", path, ok+1, key, i+1)
		}
	}
	return nil, fmt.Errorf("%s: line %d is not KEY=VALUE", path, ok+1)
}

// envKeyLine matches the start of a KEY=VALUE line of a .env file.
var envKeyLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]`)

// envKey returns the key a .env line assigns, or "".
func envKey(line string) string {
	if m := envKeyLine.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
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
