package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/tldw-go/tldw"
)

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then drains.
func serve(ctx context.Context, h host, o options, args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(h.stderr, "tldwd serve: unexpected arguments %q\n", args)
		return 2
	}
	start := time.Now()
	cfg, err := loadConfig(h, o)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: configuration:\n%v\n", err)
		return 2
	}
	app := tldw.New(cfg)
	app.LogOutput = h.stderr
	if err := app.Open(ctx); err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return 1
	}
	defer app.Close()
	if user, pw, created, err := app.BootstrapAdmin(ctx); err != nil {
		fmt.Fprintf(h.stderr, "tldwd: bootstrap admin: %v\n", err)
		return 1
	} else if created && pw != "" {
		// Printed to the console only, never to a log.
		fmt.Fprintf(h.stdout, "created admin %q with password %s (shown once; set TLDW_ADMIN_PASSWORD to choose it)\n", user, pw)
	} else if created {
		fmt.Fprintf(h.stdout, "created admin %q\n", user)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: listen: %v\n", err)
		return 1
	}
	addr := ln.Addr().String()
	profile := ""
	if cfg.Profile != "" {
		profile = ", profile: " + cfg.Profile
	}
	fmt.Fprintf(h.stdout, "tldw %s listening on http://%s (database: %s, data: %s%s, ready in %s)\n",
		tldw.Version(), addr, app.DatabaseKind(), cfg.DataDir, profile, time.Since(start).Round(time.Millisecond))
	if h.listening != nil {
		h.listening(addr)
	}
	reopenOnHangup(ctx, app, app.Logger)
	if err := app.Serve(ctx, ln); err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return 1
	}
	return 0
}
