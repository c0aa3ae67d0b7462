package tldw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
)

// TestQuotaBoundsEndToEnd: on SQLite and PostgreSQL the largest storage_quota_mb is accepted
// and keeps the quota summary and change-password working; one more is a 422 that writes
// nothing.
func TestQuotaBoundsEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn tldw.DSN) {
		ctx := context.Background()
		cfg := tldw.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = dsn
		cfg.LogLevel = 8
		app := openApp(t, cfg)
		t.Cleanup(func() { app.Close() })
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(srv.Close)
		ids := adminAndUser(t, app)
		login := func(name string) string { return loginToken(t, srv.URL, name) }
		call := func(token, method, path, body string) int {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		admin, user := login("admin1"), login("user1")
		path := "/api/v1/admin/users/" + strconv.FormatInt(ids[1], 10)
		max := strconv.FormatInt(auth.MaxStorageQuotaMB, 10)
		over := strconv.FormatInt(auth.MaxStorageQuotaMB+1, 10)
		for _, id := range ids {
			p := "/api/v1/admin/users/" + strconv.FormatInt(id, 10)
			if got := call(admin, "PUT", p, `{"storage_quota_mb":`+max+`}`); got != 200 {
				t.Fatalf("PUT max quota = %d", got)
			}
		}
		if got := call(admin, "PUT", path, `{"storage_quota_mb":`+over+`,"is_verified":true}`); got != 422 {
			t.Errorf("PUT quota over the max = %d, want 422", got)
		}
		if got := call(admin, "GET", "/api/v1/admin/storage-quotas/summary", ""); got != 200 {
			t.Errorf("quota summary = %d", got)
		}
		if got := call(user, "POST", "/api/v1/users/change-password",
			`{"current_password":"`+testPassword+`","new_password":"Stable-Orbit-5820!"}`); got != 200 {
			t.Errorf("change-password = %d", got)
		}
		u, err := app.Accounts().User(ctx, auth.SystemPrincipal(), ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if u.StorageQuotaMB == nil || *u.StorageQuotaMB != auth.MaxStorageQuotaMB || u.IsVerified {
			t.Errorf("user after the refused PUT: quota %v, verified %v", u.StorageQuotaMB, u.IsVerified)
		}
	})
}
