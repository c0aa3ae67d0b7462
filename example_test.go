package tldw_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/tldw-go/tldw"
)

// Mount a complete tldw server under /tldw/ of another program's mux.
func Example() {
	dir, _ := os.MkdirTemp("", "tldw-example")
	defer os.RemoveAll(dir)

	cfg := tldw.DefaultConfig()
	cfg.DataDir = dir // SQLite database, media and generated secrets live here
	app := tldw.New(cfg)
	if err := app.Open(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.Handle("/tldw/", http.StripPrefix("/tldw", app.Handler()))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/tldw/api/v1/health/ready")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}
