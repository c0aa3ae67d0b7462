package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"encoding/json"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
)

const adminPassword = "Load-Harness-Pa55word!"

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each measurement")
	concurrency := flag.Int("concurrency", 4*runtime.GOMAXPROCS(0), "concurrent clients for throughput runs")
	redisURL := flag.String("redis", "", "Redis URL (REDIS_URL) for Redis-backed limits and revocation; empty = in-process")
	flag.Parse()

	dir, err := os.MkdirTemp("", "tldwload")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := tldw.DefaultConfig()
	cfg.DataDir = dir
	cfg.AdminUsername, cfg.AdminEmail, cfg.AdminPassword = "admin", "admin@example.com", adminPassword
	cfg.MaxLoginAttempts = 1 << 30
	// The limiter stays on (its cost is part of what is measured) but never refuses.
	cfg.AuthRateLimit = tldw.Rate{N: 1_000_000, Per: time.Second}
	cfg.APIRateLimit = tldw.Rate{N: 1_000_000, Per: time.Second}
	cfg.RedisURL = tldw.DSN(*redisURL)
	cfg.LogLevel = 8 // errors only: the access log would measure the terminal
	ctx := context.Background()
	app := tldw.New(cfg)
	if err := app.Open(ctx); err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	if _, _, _, err := app.BootstrapAdmin(ctx); err != nil {
		log.Fatal(err)
	}
	base := serve(app.Handler())
	bare := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}}
	state := "in-process"
	if *redisURL != "" {
		waitRedis(client, base)
		state = "redis " + *redisURL
	}
	token := login(client, base)
	// The latency probe runs as another user: the admin's logins below go past
	// MAX_SESSIONS_PER_USER and end the admin's oldest sessions.
	if _, err := app.Accounts().CreateUser(ctx, auth.SystemPrincipal(), auth.NewUser{Username: "reader",
		Email: "reader@example.com", Password: adminPassword, Role: auth.RoleUser}, auth.Meta{}); err != nil {
		log.Fatal(err)
	}
	reader := loginAs(client, base, "reader")

	fmt.Printf("tldwload: GOMAXPROCS=%d concurrency=%d duration=%s limits and revocation: %s\n\n",
		runtime.GOMAXPROCS(0), *concurrency, *duration, state)

	bareRate, _ := run(*concurrency, *duration, func() error { return get(client, bare+"/", "") })
	verifyRate, _ := run(*concurrency, *duration, func() error { return get(client, base+"/api/v1/auth/verify", token) })
	fmt.Printf("auth/verify:   %9.0f req/s   bare handler: %9.0f req/s   ratio %.2f (goal >= 0.60)\n", verifyRate, bareRate, verifyRate/bareRate)

	hasher := auth.NewHasher(auth.Argon2Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Parallelism}, 0, time.Minute)
	hashRate, _ := run(runtime.GOMAXPROCS(0), *duration, func() error {
		_, err := hasher.Hash(ctx, adminPassword)
		return err
	})
	loginRate, _ := run(*concurrency, *duration, func() error { login(client, base); return nil })
	fmt.Printf("logins:        %9.1f /s      argon2id hashes: %7.1f /s   ratio %.2f (goal >= 0.90)\n", loginRate, hashRate, loginRate/hashRate)

	var lat []time.Duration
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			if err := get(client, base+"/api/v1/auth/me", reader); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			lat = append(lat, time.Since(t))
			mu.Unlock()
		}
	}()
	run(*concurrency, *duration, func() error { login(client, base); return nil })
	close(stop)
	<-done
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("GET /auth/me under login load: n=%d p50 %s  p99 %s (goal <= 50ms)\n",
		len(lat), p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))
}

// waitRedis waits until the server reports Redis healthy, then a little longer for the
// invalidation subscription, so the run measures the steady state (the session cache is
// only trusted while the subscription is live).
func waitRedis(c *http.Client, base string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var h struct {
			Checks map[string]string `json:"checks"`
		}
		resp, err := c.Get(base + "/api/v1/health")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if h.Checks["redis"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			log.Fatalf("Redis not healthy within 10s (checks %v); check -redis", h.Checks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
}

// serve starts h on a loopback port and returns its base URL.
func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, h)
	return "http://" + ln.Addr().String()
}

// run calls fn from n goroutines for d and returns completed calls per second.
func run(n int, d time.Duration, fn func() error) (float64, int64) {
	var count atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := fn(); err != nil {
					log.Fatal(err)
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds(), count.Load()
}

func get(c *http.Client, u, token string) error {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

func login(c *http.Client, base string) string { return loginAs(c, base, "admin") }

// loginAs logs user in (every account has adminPassword) and returns the access token.
func loginAs(c *http.Client, base, user string) string {
	form := url.Values{"username": {user}, "password": {adminPassword}}
	resp, err := c.Post(base+"/api/v1/auth/login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
		b, _ := io.ReadAll(resp.Body)
		log.Fatalf("login: %s %s", resp.Status, b)
	}
	return tok.AccessToken
}
