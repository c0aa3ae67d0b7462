package main

import (
	"context"
	"fmt"

	"github.com/tldw-go/tldw"
)

// openApp opens the configured App for a command-line operation (no listener).
func openApp(ctx context.Context, h host, o options) (*tldw.App, int) {
	cfg, err := loadConfig(h, o)
	if err != nil {
		fmt.Fprintf(h.stderr, "tldwd: configuration:\n%v\n", err)
		return nil, 2
	}
	app := tldw.New(cfg)
	app.LogOutput = h.stderr
	app.NoWorkers = true // the server's workers process what commands enqueue
	if err := app.Open(ctx); err != nil {
		fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
		return nil, 1
	}
	return app, 0
}

// fail prints err and returns exit code 1.
func fail(h host, err error) int {
	fmt.Fprintf(h.stderr, "tldwd: %v\n", err)
	return 1
}
