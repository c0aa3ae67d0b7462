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
	setMemoryLimit(os.LookupEnv)
	os.Exit(run(ctx, os.Args[1:], host{
		lookup: os.LookupEnv,
		stdout: os.Stdout,
		stderr: os.Stderr,
	}))
}
