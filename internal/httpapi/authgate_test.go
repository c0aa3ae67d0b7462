package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/auth"
)

// TestMustChangePasswordGate: until the password is changed, a principal flagged
// must_change_password (by JWT or API key) reaches only change-password, its own account,
// refresh and logout; everything else is 403 password_change_required. Afterwards all works.
func TestMustChangePasswordGate(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.Accounts[callerUser]
	_, key := ts.createKey(t, alice, auth.ScopeRead, auth.ScopeWrite)
	u, err := ts.Stores.Users.UserByID(context.Background(), alice.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.MustChangePassword = true
	if err := ts.Stores.Users.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	ts.Auth.InvalidateUser(u.ID)
	jwt, apiKey := bearer(alice.Access), map[string]string{"X-API-KEY": key}

	refused := []struct{ method, path, body string }{
		{"GET", "/api/v1/auth/sessions", ""},
		{"GET", "/api/v1/users/api-keys", ""},
		{"POST", "/api/v1/users/api-keys", `{"name":"k","scopes":["read"]}`},
		{"PUT", "/api/v1/users/me", `{"email":"a2@example.com","current_password":"` + testPassword + `"}`},
		{"POST", "/api/v1/users/sessions/revoke-all", ""},
	}
	for _, cred := range []map[string]string{jwt, apiKey} {
		for _, c := range refused {
			rec := ts.call(t, callerAnonymous, c.method, c.path, c.body, cred)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"code":"password_change_required"`) {
				t.Errorf("%s %s with %v = %d %s, want 403 password_change_required", c.method, c.path, cred, rec.Code, rec.Body)
			}
		}
		for _, path := range []string{"/api/v1/auth/me", "/api/v1/users/me"} {
			if rec := ts.call(t, callerAnonymous, "GET", path, "", cred); rec.Code != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", path, rec.Code, rec.Body)
			}
		}
		if got := status(t, ts, "GET", "/api/v1/auth/verify", "", cred); got != http.StatusForbidden {
			t.Errorf("auth/verify = %d, want 403", got)
		}
	}
	// Refresh and logout work: a second session is refreshed, then ended.
	other := loginAs(t, ts, "alice", testPassword)
	rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+other.RefreshToken+`"}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("refresh = %d %s", rec.Code, rec.Body)
	}
	if got := status(t, ts, "POST", "/api/v1/auth/logout", "", bearer(decodeJSON(t, rec)["access_token"].(string))); got != http.StatusOK {
		t.Errorf("logout = %d, want 200", got)
	}

	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/users/change-password",
		`{"current_password":"`+testPassword+`","new_password":"Stable-Orbit-5820!"}`, jwt)
	if rec.Code != http.StatusOK {
		t.Fatalf("change-password = %d %s", rec.Code, rec.Body)
	}
	for _, cred := range []map[string]string{jwt, apiKey} {
		for _, c := range refused[:2] {
			if got := status(t, ts, c.method, c.path, c.body, cred); got != http.StatusOK {
				t.Errorf("after the change: %s %s = %d, want 200", c.method, c.path, got)
			}
		}
	}
}
