package tldw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/testenv"
)

// hardeningApp opens an App on SQLite or PostgreSQL with an admin "root", served over
// httptest, and returns the server and root's access token.
func hardeningApp(t *testing.T, db string) (*tldw.App, *httptest.Server, string) {
	t.Helper()
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = 8
	if db == "postgres" {
		cfg.DatabaseURL = tldw.DSN(testenv.Postgres(t))
	}
	app := openApp(t, cfg)
	t.Cleanup(func() { app.Close() })
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	const pw = "Brave-Falcon-92!"
	if _, err := app.Accounts().CreateUser(context.Background(), auth.SystemPrincipal(), auth.NewUser{
		Username: "root", Email: "root@example.com", Password: pw, Role: auth.RoleAdmin}, auth.Meta{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(srv.URL+"/api/v1/auth/login", url.Values{"username": {"root"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return app, srv, tok.AccessToken
}

// TestInvalidTextIs400 (issue 9 item 15): NUL bytes and invalid UTF-8 in text fields and
// queries are a 400 invalid_text on both databases (PostgreSQL answered 500).
func TestInvalidTextIs400(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("media_type", "document")
	mw.WriteField("author", "a\x00b")
	fw, _ := mw.CreateFormFile("files", "a.txt")
	fw.Write([]byte("hello"))
	mw.Close()
	tests := []struct {
		name, method, path, ct, body string
	}{
		{"API-key name", "POST", "/api/v1/users/api-keys", "application/json", `{"name":"key\u0000"}`},
		{"user search", "GET", "/api/v1/admin/users?search=ro%00ot", "", ""},
		{"username", "POST", "/api/v1/admin/users", "application/json",
			"{\"username\":\"ev\xffil\",\"email\":\"e@example.com\",\"password\":\"Brave-Falcon-92!\"}"},
		{"audit filter", "GET", "/api/v1/admin/audit-log?username=%ff", "", ""},
		{"login form", "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=ro%00ot&password=x"},
		{"media author", "POST", "/api/v1/media/add", mw.FormDataContentType(), mp.String()},
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			_, srv, token := hardeningApp(t, db)
			for _, tc := range tests {
				req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
				req.Header.Set("Authorization", "Bearer "+token)
				if tc.ct != "" {
					req.Header.Set("Content-Type", tc.ct)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct{ Code string }
				if json.Unmarshal(b, &e); resp.StatusCode != http.StatusBadRequest || e.Code != "invalid_text" {
					t.Errorf("%s: %d %s, want 400 invalid_text", tc.name, resp.StatusCode, b)
				}
			}
		})
	}
}

// TestAuditRequestIDIsServers (issue 9 item 20): the audit row's request_id is the server's
// own id; the client's X-Request-ID is kept as details.client_request_id and echoed.
func TestAuditRequestIDIsServers(t *testing.T) {
	app, srv, _ := hardeningApp(t, "sqlite")
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/auth/login",
		strings.NewReader(url.Values{"username": {"root"}, "password": {"wrong-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-ID", "client-rid-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-ID") != "client-rid-1" {
		t.Errorf("X-Request-ID = %q, want the client's echoed", resp.Header.Get("X-Request-ID"))
	}
	entries, _, err := app.AuditLog.Query(context.Background(), audit.Filter{Actions: []string{audit.LoginFailed}, Limit: 10})
	if err != nil || len(entries) != 1 {
		t.Fatalf("login_failed entries = %d, %v", len(entries), err)
	}
	e := entries[0].Event
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if !uuidRE.MatchString(e.RequestID) || e.Details["client_request_id"] != "client-rid-1" {
		t.Errorf("request_id %q, details %v: want the server's UUID and client_request_id", e.RequestID, e.Details)
	}
}
