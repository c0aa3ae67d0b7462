package tldw_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func openApp(t *testing.T, cfg tldw.Config) *tldw.App {
	t.Helper()
	app := tldw.New(cfg)
	if err := app.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return app
}

// TestGeneratedSecretsPersist checks that secrets generated on first start are stored with
// mode 0600 and reused on the next start.
func TestGeneratedSecretsPersist(t *testing.T) {
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	openApp(t, cfg).Close()
	files := map[string]string{}
	for _, name := range []string{"jwt_secret.key", "audit_hmac.key", "api_key_pepper.key"} {
		path := filepath.Join(cfg.DataDir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, st.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		files[name] = string(b)
	}
	openApp(t, cfg).Close()
	for name, before := range files {
		if after, _ := os.ReadFile(filepath.Join(cfg.DataDir, name)); string(after) != before {
			t.Errorf("%s changed across restarts", name)
		}
	}
}

// TestAuditTrail writes events through the App's sink and checks the file, the table, the
// shutdown checkpoint and verification.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AuditLogFile = filepath.Join(cfg.DataDir, "logs", "audit.log")
	app := openApp(t, cfg)
	for _, ip := range []string{"203.0.113.7", "198.51.100.9"} {
		err := app.AuditSink().Write(ctx, audit.Event{Action: audit.LoginFailed, Username: "mallory", IP: ip,
			Details: map[string]any{"password": "hunter2", "reason": "bad_password"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := app.VerifyAudit(ctx)
	if err != nil || !rep.OK || rep.Checked != 2 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	entries, total, err := app.AuditLog.Query(ctx, audit.Filter{Actions: []string{audit.LoginFailed}, Limit: 10})
	if err != nil || total != 2 || entries[0].Event.IP != "198.51.100.9" {
		t.Fatalf("query = %v %d %v", entries, total, err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.AuditLogFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if strings.Count(text, "LOGIN_FAILED IP: ") != 2 || strings.Contains(text, "hunter2") {
		t.Errorf("audit file:\n%s", text)
	}
	if !strings.Contains(text, "AUDIT_CHECKPOINT") {
		t.Errorf("no checkpoint written on shutdown:\n%s", text)
	}
	// After a restart the checkpoint from the file anchors verification of the tail.
	app = openApp(t, cfg)
	defer app.Close()
	if rep, err := app.VerifyAudit(ctx); err != nil || !rep.OK || rep.Head != 2 {
		t.Errorf("verify after restart = %+v, %v", rep, err)
	}
}

// TestReopenLogs is what logrotate's postrotate relies on: after the files are moved away,
// ReopenLogs (SIGHUP in tldwd) makes the App write to fresh files at the configured paths.
func TestReopenLogs(t *testing.T) {
	ctx := context.Background()
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.LogFile = filepath.Join(cfg.DataDir, "log", "app.log")
	cfg.AuditLogFile = filepath.Join(cfg.DataDir, "log", "audit.log")
	app := openApp(t, cfg)
	defer app.Close()
	app.Logger.Info("before rotation")
	for _, f := range []string{cfg.LogFile, cfg.AuditLogFile} {
		if err := os.Rename(f, f+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.ReopenLogs(); err != nil {
		t.Fatal(err)
	}
	app.Logger.Info("after rotation")
	if err := app.AuditSink().Write(ctx, audit.Event{Action: audit.Logout, Username: "alice", Success: true}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(cfg.LogFile + ".1")
	cur, _ := os.ReadFile(cfg.LogFile)
	if !strings.Contains(string(old), "before rotation") || !strings.Contains(string(cur), "after rotation") || strings.Contains(string(cur), "before rotation") {
		t.Errorf("rotated log %q, new log %q", old, cur)
	}
	if a, _ := os.ReadFile(cfg.AuditLogFile); !strings.Contains(string(a), "LOGOUT") {
		t.Errorf("new audit file %q", a)
	}
}

// TestRequireAuth guards an embedder's own route with tldw's credentials.
func TestRequireAuth(t *testing.T) {
	ctx := context.Background()
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = "Brave-Falcon-92!"
	app := openApp(t, cfg)
	defer app.Close()
	if _, _, _, err := app.BootstrapAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	pair, err := app.Accounts().Login(ctx, "admin", "Brave-Falcon-92!", auth.Meta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	mine := app.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+tldw.PrincipalFrom(r.Context()).Username)
	}))
	for _, tc := range []struct {
		token, want string
		status      int
	}{
		{"", `"detail"`, 401},
		{"not-a-token", `"detail"`, 401},
		{pair.AccessToken, "hello admin", 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/mine", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		mine.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("token %.10q: %d %q", tc.token, rec.Code, rec.Body.String())
		}
	}
}
