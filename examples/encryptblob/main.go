package main

import (
	"context"
	"encoding/hex"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/storage/fsblob"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	key, err := hex.DecodeString(os.Getenv("TLDW_MEDIA_KEY"))
	if err != nil || len(key) != 32 {
		log.Fatal("TLDW_MEDIA_KEY must be 64 hex characters (openssl rand -hex 32)")
	}
	cfg, err := tldw.FromEnv(os.LookupEnv)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := fsblob.Open(cfg.MediaDir())
	if err != nil {
		log.Fatal(err)
	}
	blobs, err := NewEncrypted(dir, key)
	if err != nil {
		log.Fatal(err)
	}
	app := tldw.New(cfg)
	app.Blobs = blobs // set before Open: the App uses it instead of building its own
	if err := app.Open(ctx); err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("tldw with encrypted media on http://%s", ln.Addr())
	if err := app.Serve(ctx, ln); err != nil {
		log.Fatal(err)
	}
}
