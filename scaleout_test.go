package tldw

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRedisDownAtStart: an unreachable REDIS_URL only degrades the server. It opens, health
// says why it is degraded (206), and logins are limited per replica meanwhile, without
// waiting on Redis.
func TestRedisDownAtStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
	cfg.AdminUsername, cfg.AdminPassword = "admin", "Scale-0ut-Passphrase"
	cfg.Argon2MemoryKiB, cfg.Argon2Time = 8192, 1
	cfg.AuthRateLimit = Rate{N: 3, Per: time.Minute}
	app := New(cfg)
	app.LogOutput = io.Discard
	if err := app.Open(context.Background()); err != nil {
		t.Fatalf("Open with Redis down: %v", err)
	}
	defer app.Close()
	if _, _, _, err := app.BootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := app.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/health", nil))
	if rec.Code != http.StatusPartialContent || !strings.Contains(rec.Body.String(), "redis") {
		t.Errorf("health with Redis down = %d %s, want 206 naming redis", rec.Code, rec.Body)
	}

	form := url.Values{"username": {"admin"}, "password": {cfg.AdminPassword.Reveal()}}.Encode()
	var codes []int
	start := time.Now()
	for range 4 {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "198.51.100.4:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
	}
	if codes[0] != 200 || codes[2] != 200 || codes[3] != http.StatusTooManyRequests {
		t.Errorf("logins with Redis down = %v, want 200 200 200 429 (per-replica limit)", codes)
	}
	t.Logf("4 logins with Redis unreachable took %v", time.Since(start))
}
