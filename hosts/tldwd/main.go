package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], host{
		lookup: os.LookupEnv,
		stdout: os.Stdout,
		stderr: os.Stderr,
	}))
}
