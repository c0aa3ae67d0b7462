package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envMap is a lookup over a fixed environment, so tests never read the process's.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// started is a tldwd serving in-process on a loopback port.
type started struct {
	url    string
	cancel context.CancelFunc
	done   chan int
	stdout *syncBuffer
	stderr *syncBuffer
}

// startServer runs `tldwd serve --addr 127.0.0.1:0` in-process with env and waits for the
// listener.
func startServer(t *testing.T, env map[string]string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	addrc := make(chan string, 1)
	h := host{lookup: envMap(env), stdout: s.stdout, stderr: s.stderr, listening: func(a string) { addrc <- a }}
	envFile := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--env-file", envFile}, h) }()
	select {
	case a := <-addrc:
		s.url = "http://" + a
	case code := <-s.done:
		cancel()
		t.Fatalf("server exited with %d before listening:\n%s", code, s.stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServeEmbeddedDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": dir})

	if !strings.Contains(s.stdout.String(), "listening on "+s.url) || !strings.Contains(s.stdout.String(), "database: sqlite") {
		t.Errorf("startup line = %q", s.stdout.String())
	}
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/api/v1/health", `"status":"healthy"`, 200},
		{"/api/v1/health/live", `"alive"`, 200},
		{"/api/v1/health/ready", `"ready"`, 200},
		{"/metrics", "tldw_http_requests_total", 200},
		{"/api/v1/health/metrics", "go_goroutines", 200},
		{"/openapi.json", `"openapi"`, 200},
		{"/docs", "/api/v1/health/ready", 200},
		{"/api/v1/nope", `"code":"not_found"`, 404},
	} {
		code, _, body := get(t, s.url+tc.path)
		if code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %.200q; want %d containing %q", tc.path, code, body, tc.status, tc.want)
		}
	}
	for _, f := range []string{"tldw.db", "media", "jwt_secret.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "jwt_secret.key")); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("jwt_secret.key mode = %v, want 0600", st.Mode().Perm())
	}
	secret, _ := os.ReadFile(filepath.Join(dir, "jwt_secret.key"))
	if len(secret) < 32 || strings.Contains(s.stdout.String()+s.stderr.String(), strings.TrimSpace(string(secret))) {
		t.Errorf("generated secret too short or logged")
	}
}

// TestServeDrain cancels the context (what SIGTERM does) while a request is in flight: the
// request still completes, readiness flips to 503 at once, and serve exits 0.
func TestServeDrain(t *testing.T) {
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": t.TempDir(), "SHUTDOWN_DELAY_SECONDS": "5"})
	s.cancel()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a latency bound
	for {
		code, _, body := get(t, s.url+"/api/v1/health/ready")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "shutdown_in_progress") {
				t.Errorf("draining ready body = %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ready never answered 503 after cancel")
		}
	}
	// Liveness still answers during the delay: in-flight and new requests are served.
	if code, _, _ := get(t, s.url+"/api/v1/health/live"); code != http.StatusOK {
		t.Errorf("live during drain = %d", code)
	}
}

func TestServeDrainExitsZero(t *testing.T) {
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": t.TempDir()})
	s.cancel()
	if code := <-s.done; code != 0 {
		t.Fatalf("exit code %d after drain; stderr:\n%s", code, s.stderr.String())
	}
	s.done <- 0 // for Cleanup
}

func TestServePostgres(t *testing.T) {
	url := postgresURL(t)
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": t.TempDir(), "DATABASE_URL": url})
	if !strings.Contains(s.stdout.String(), "database: postgres") {
		t.Errorf("startup line = %q", s.stdout.String())
	}
	if code, _, body := get(t, s.url+"/api/v1/health/ready"); code != 200 {
		t.Errorf("ready = %d %s", code, body)
	}
}

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), args, host{lookup: envMap(env), stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func TestMigrateCommand(t *testing.T) {
	for name, url := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "x.db") },
		"postgres": postgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"TLDW_DATA_DIR": t.TempDir(), "DATABASE_URL": url(t)}
			code, out, errs := runCLI(t, env, "migrate", "status")
			if code != 0 || !strings.Contains(out, "0 applied") || !strings.Contains(out, "pending") {
				t.Fatalf("status before = %d %q %q", code, out, errs)
			}
			if code, out, errs = runCLI(t, env, "migrate", "up"); code != 0 || !strings.Contains(out, "applied") {
				t.Fatalf("up = %d %q %q", code, out, errs)
			}
			if code, out, _ = runCLI(t, env, "migrate", "status"); code != 0 || !strings.Contains(out, " 0 pending") {
				t.Fatalf("status after = %d %q", code, out)
			}
			if code, out, _ = runCLI(t, env, "migrate"); code != 0 || !strings.Contains(out, "0 migrations applied") {
				t.Fatalf("re-run = %d %q", code, out)
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("x", 40)
	env := map[string]string{
		"TLDW_DATA_DIR":  t.TempDir(),
		"JWT_SECRET_KEY": secret,
		"DATABASE_URL":   "postgresql://tldw_user:SecurePassword123!@localhost/tldw_multiuser",
	}
	code, out, errs := runCLI(t, env, "check-config")
	if code != 0 {
		t.Fatalf("check-config = %d: %s", code, errs)
	}
	if strings.Contains(out+errs, secret) || strings.Contains(out, "SecurePassword123!") {
		t.Errorf("secret printed:\n%s%s", out, errs)
	}
	if !strings.Contains(out, "JWT_SECRET_KEY=REDACTED") || !strings.Contains(out, "tldw_user:REDACTED@") || !strings.Contains(errs, "warning:") ||
		!strings.Contains(errs, "media tool pdftotext") {
		t.Errorf("check-config output:\n%s\n%s", out, errs)
	}
	env["AUTH_RATE_LIMIT"] = "5/fortnight"
	if code, _, errs = runCLI(t, env, "check-config"); code != 2 || !strings.Contains(errs, "AUTH_RATE_LIMIT") {
		t.Errorf("bad rate: %d %q", code, errs)
	}
}

func TestEnvFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "test.env")
	os.WriteFile(file, []byte("LOG_LEVEL=DEBUG\nENABLE_REGISTRATION=true  # open registration\nCSP_DIRECTIVES=\"default-src 'self'; script-src 'self'\"\nAUTH_RATE_LIMIT=7/minute\n"), 0o600)
	env := map[string]string{"TLDW_DATA_DIR": dir, "AUTH_RATE_LIMIT": "9/minute"}
	code, out, errs := runCLI(t, env, "--env-file", file, "check-config")
	if code != 0 {
		t.Fatalf("check-config: %d %s", code, errs)
	}
	for _, want := range []string{"ENABLE_REGISTRATION=true", "AUTH_RATE_LIMIT=9/minute", "CSP_DIRECTIVES=default-src 'self'; script-src 'self'"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if code, _, _ := runCLI(t, env, "--env-file", filepath.Join(dir, "missing.env"), "check-config"); code != 2 {
		t.Errorf("missing explicit env file: exit %d, want 2", code)
	}
}

func TestSmallCommands(t *testing.T) {
	code, out, _ := runCLI(t, nil, "gen-secret")
	if code != 0 || len(strings.TrimSpace(out)) != 88 {
		t.Errorf("gen-secret = %d %q", code, out)
	}
	if code, out, _ = runCLI(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "tldwd ") {
		t.Errorf("version = %d %q", code, out)
	}
	if code, _, _ = runCLI(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": t.TempDir()})
	addr := strings.TrimPrefix(s.url, "http://")
	if code, out, errs := runCLI(t, map[string]string{"TLDW_DATA_DIR": t.TempDir()}, "healthcheck", "--addr", addr); code != 0 {
		t.Errorf("healthcheck = %d %q %q", code, out, errs)
	}
	if code, _, _ := runCLI(t, map[string]string{"TLDW_DATA_DIR": t.TempDir()}, "healthcheck", "--addr", "127.0.0.1:1"); code != 1 {
		t.Errorf("healthcheck of nothing = %d, want 1", code)
	}
}

// TestDeployNginxConfig checks the shipped nginx site with `nginx -t`.
func TestDeployNginxConfig(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("nginx not installed")
		}
		t.Skip("nginx not installed")
	}
	dir := t.TempDir()
	site, err := os.ReadFile("deploy/nginx/tldw.conf")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := writeSelfSigned(t, dir)
	conf := strings.NewReplacer(
		"/etc/letsencrypt/live/yourdomain.com/fullchain.pem", cert,
		"/etc/letsencrypt/live/yourdomain.com/privkey.pem", key,
		"listen 80;", "listen 127.0.0.1:18080;",
		"listen 443 ssl http2;", "listen 127.0.0.1:18443 ssl http2;",
	).Replace(string(site))
	os.WriteFile(filepath.Join(dir, "site.conf"), []byte(conf), 0o600)
	main := "pid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\naccess_log off;\ninclude " + dir + "/site.conf;\n}\n"
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600)
	out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "successful") {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

func TestOpenAPIFromServer(t *testing.T) {
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": t.TempDir()})
	_, _, body := get(t, s.url+"/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || doc.Paths["/api/v1/health/ready"]["get"] == nil {
		t.Errorf("openapi %q paths %d", doc.OpenAPI, len(doc.Paths))
	}
}

// postgresURL gives the test its own fresh PostgreSQL database.
func postgresURL(t *testing.T) string { return testenv.Postgres(t) }
