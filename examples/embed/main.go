package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/tldw-go/tldw"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := tldw.FromEnv(os.LookupEnv)
	if err != nil {
		log.Fatal(err)
	}
	app := tldw.New(cfg)
	if err := app.Open(ctx); err != nil {
		log.Fatal(err)
	}
	defer app.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "my program; tldw lives under /tldw/")
	})
	// tldw's credentials guard the program's own routes too.
	mux.Handle("GET /me", app.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s\n", tldw.PrincipalFrom(r.Context()).Username)
	})))
	mux.Handle("/tldw/", http.StripPrefix("/tldw", app.Handler()))

	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on http://%s", ln.Addr())
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
