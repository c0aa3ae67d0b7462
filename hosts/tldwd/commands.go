package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/media"
)

// migrate applies (up, the default) or lists (status) database migrations.
func migrate(ctx context.Context, h host, o options, args []string) int {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	if len(args) > 1 || (sub != "up" && sub != "status") {
		fmt.Fprintln(h.stderr, "usage: tldwd migrate [up|status]")
		return 2
	}
	cfg, err := loadConfig(h, o)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: configuration:\n%v\n", err)
		return 2
	}
	if sub == "status" {
		st, err := tldw.Migrations(ctx, cfg, nil)
		if err != nil {
			fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
			return 1
		}
		fmt.Fprintf(h.stdout, "database: %s\n", st.Dialect)
		for _, m := range st.Applied {
			fmt.Fprintf(h.stdout, "applied  %s\n", m)
		}
		for _, m := range st.Pending {
			fmt.Fprintf(h.stdout, "pending  %s\n", m)
		}
		fmt.Fprintf(h.stdout, "%d applied, %d pending\n", len(st.Applied), len(st.Pending))
		return 0
	}
	applied, err := tldw.Migrate(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return 1
	}
	for _, m := range applied {
		fmt.Fprintf(h.stdout, "applied  %s\n", m)
	}
	fmt.Fprintf(h.stdout, "%d migrations applied; database is current\n", len(applied))
	return 0
}

// checkConfig prints the effective configuration with secrets redacted (loadConfig prints
// the warnings), then on stderr the media tools found and missing.
// It exits 2 when the configuration is invalid.
func checkConfig(ctx context.Context, h host, o options, _ []string) int {
	cfg, err := loadConfig(h, o)
	if err != nil {
		fmt.Fprintf(h.stderr, "configuration is invalid:\n%v\n", err)
		return 2
	}
	for _, e := range cfg.Redacted() {
		fmt.Fprintf(h.stdout, "%s=%s\n", e.Key, e.Value)
	}
	fmt.Fprintln(h.stderr, "configuration is valid") // loadConfig printed the warnings
	for _, t := range media.DetectTools(ctx, media.KnownTools()...) {
		if t.Found {
			fmt.Fprintf(h.stderr, "media tool %s %s (%s)\n", t.Name, t.Version, t.Path)
		} else {
			fmt.Fprintf(h.stderr, "media tool %s: %s\n", t.Name, t.Error)
		}
	}
	return 0
}

// genSecret prints a random secret suitable for JWT_SECRET_KEY.
func genSecret(_ context.Context, h host, _ options, _ []string) int {
	s, err := tldw.GenerateSecret()
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(h.stdout, s)
	return 0
}

// healthcheck exits 0 when the local server's readiness endpoint answers 200.
func healthcheck(ctx context.Context, h host, o options, _ []string) int {
	cfg, err := loadConfig(h, o)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: configuration:\n%v\n", err)
		return 2
	}
	url := "http://" + dialable(cfg.Addr) + "/api/v1/health/ready"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(h.stderr, "unhealthy: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(h.stderr, "unhealthy: %s answered %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintln(h.stdout, "ready")
	return 0
}

// dialable turns a listen address into one a local client can dial (0.0.0.0 → 127.0.0.1).
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch strings.Trim(host, "[]") {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// version prints the build's version.
func version(_ context.Context, h host, _ options, _ []string) int {
	fmt.Fprintf(h.stdout, "tldwd %s\n", tldw.Version())
	return 0
}
