package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/auth/authtest"
	"github.com/tldw-go/tldw/quota"
)

// TestMustChangePasswordGate: until the password is changed, a principal flagged
// must_change_password (by JWT or API key) reaches only change-password, its own account,
// refresh and logout; everything else is 403 password_change_required. Afterwards all works.
func TestMustChangePasswordGate(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.Accounts[callerUser]
	_, key := ts.createKey(t, alice, auth.ScopeRead, auth.ScopeWrite)
	must := true
	if _, err := ts.Stores.Users.UpdateUser(context.Background(), alice.User.ID, auth.UserPatch{MustChangePassword: &must}); err != nil {
		t.Fatal(err)
	}
	ts.Auth.InvalidateUser(alice.User.ID)
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
		`{"current_password":"`+testPassword+`","new_password":"Stable-Orbit-5820!","revoke_api_keys":false}`, jwt)
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

// TestSingleUserAllowedIPs: in single-user mode a client outside SINGLE_USER_ALLOWED_IPS,
// as resolved behind trusted proxies, is refused with 403 ip_not_allowed, even with the key.
func TestSingleUserAllowedIPs(t *testing.T) {
	const key = "single-user-key-0123456789abcdef"
	st := authtest.NewMemory()
	tokens, err := auth.NewTokens(auth.KeyConfig{Secret: []byte("test-signing-secret-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.NewService(auth.Options{
		Users: st.Users, Sessions: st.Sessions, Codes: st.Codes, APIKeys: st.APIKeys,
		Lockout: st.Lockout, Settings: st.Settings, Tokens: tokens,
		Hasher:     auth.NewHasher(auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 2, time.Second),
		SingleUser: true, SingleUserAPIKey: key, SingleUserID: 1,
		SingleUserIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(Options{Auth: svc, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer, xff string
		header          string
		want            int
	}{
		{"allowed peer", "192.0.2.7:1234", "", "X-API-KEY", 200},
		{"allowed peer, bearer", "192.0.2.7:1234", "", "Authorization", 200},
		{"other peer", "198.51.100.7:1234", "", "X-API-KEY", 403},
		{"forged forwarding from an untrusted peer", "198.51.100.7:1234", "192.0.2.7", "X-API-KEY", 403},
		{"allowed client behind a trusted proxy", "10.1.2.3:1234", "192.0.2.7", "X-API-KEY", 200},
		{"other client behind a trusted proxy", "10.1.2.3:1234", "198.51.100.7", "Authorization", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/users/me", "/api/v1/auth/verify"} {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr = c.peer
				if c.xff != "" {
					req.Header.Set("X-Forwarded-For", c.xff)
				}
				if c.header == "Authorization" {
					req.Header.Set("Authorization", "Bearer "+key)
				} else {
					req.Header.Set("X-API-KEY", key)
				}
				rec := httptest.NewRecorder()
				serveChecked(t, srv, rec, req)
				if rec.Code != c.want {
					t.Errorf("GET %s = %d %s, want %d", path, rec.Code, rec.Body, c.want)
				}
				if c.want == 403 && path == "/api/v1/users/me" && !strings.Contains(rec.Body.String(), `"code":"ip_not_allowed"`) {
					t.Errorf("body = %s, want code ip_not_allowed", rec.Body)
				}
			}
			// Logging in with the key is refused the same way.
			req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader("username=x&password="+key))
			req.Header.Set("Content-Type", formCT)
			req.RemoteAddr = c.peer
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			rec := httptest.NewRecorder()
			serveChecked(t, srv, rec, req)
			if rec.Code != c.want {
				t.Errorf("login = %d %s, want %d", rec.Code, rec.Body, c.want)
			}
		})
	}
}

// TestAuthRateLimitIPv6Bucket: the addresses of one IPv6 /64 share one AUTH_RATE_LIMIT
// budget; the next /64 has its own.
func TestAuthRateLimitIPv6Bucket(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) { o.RateLimits.Auth = quota.Limit{N: 1, Per: time.Minute} }))
	if rec := ts.loginFrom("[2001:db8:1:2::1]:4000", nil); rec.Code != http.StatusOK {
		t.Fatalf("first address: %d %s", rec.Code, rec.Body)
	}
	want429(t, ts.loginFrom("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:4000", nil), "1")
	if rec := ts.loginFrom("[2001:db8:1:3::1]:4000", nil); rec.Code != http.StatusOK {
		t.Errorf("next /64: %d %s", rec.Code, rec.Body)
	}
}

// TestCookieModeOrigin: in cookie mode login and register refuse a foreign Origin or Referer
// (login CSRF), and every origin check compares the scheme too.
func TestCookieModeOrigin(t *testing.T) {
	ts := newTestServer(t, withHTTP(func(o *Options) {
		o.AuthCookies = true
		o.AllowedOrigins = []string{"https://app.example"}
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}))
	h := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": formCT}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	login := "username=alice&password=" + testPassword
	register := `{"username":"newbie","email":"newbie@example.com","password":"Stable-Orbit-5820!"}`
	for _, c := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no Origin (non-browser client)", h(), 200},
		{"same origin", h("Origin", "http://example.com"), 200},
		{"same origin by Referer", h("Referer", "http://example.com/login"), 200},
		{"origin in ALLOWED_ORIGINS", h("Origin", "https://app.example"), 200},
		{"cross-site form", h("Origin", "https://evil.example"), 403},
		{"cross-site Referer", h("Referer", "https://evil.example/x"), 403},
		{"null Origin", h("Origin", "null"), 403},
		{"other scheme", h("Origin", "https://example.com"), 403},
	} {
		rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", login, c.header)
		if rec.Code != c.want || c.want == 403 && !strings.Contains(rec.Body.String(), `"code":"csrf_failed"`) {
			t.Errorf("login, %s = %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
		if c.want == 403 {
			c.header["Content-Type"] = "application/json"
			if rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/register", register, c.header); rec.Code != 403 {
				t.Errorf("register, %s = %d %s, want 403", c.name, rec.Code, rec.Body)
			}
		}
	}
	if rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/register", register,
		map[string]string{"Origin": "http://example.com"}); rec.Code != 200 {
		t.Errorf("same-origin register = %d %s", rec.Code, rec.Body)
	}

	// Behind a trusted TLS proxy the origin is https://example.com; http:// is foreign.
	send := func(origin string) int {
		req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(login))
		req.RemoteAddr = "10.0.0.2:5000"
		req.Header.Set("Content-Type", formCT)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		serveChecked(t, ts.Server, rec, req)
		return rec.Code
	}
	if got := send("https://example.com"); got != 200 {
		t.Errorf("https origin behind a TLS proxy = %d, want 200", got)
	}
	if got := send("http://example.com"); got != 403 {
		t.Errorf("http origin behind a TLS proxy = %d, want 403", got)
	}

	// Cookie-authenticated writes compare the scheme too.
	rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", login, h())
	cookie := "tldw_access=" + setCookies(rec)["tldw_access"].Value
	for _, c := range []struct { // the successful logout last
		origin string
		want   int
	}{{"https://example.com", 403}, {"", 403}, {"http://example.com", 200}} {
		hdr := map[string]string{"Cookie": cookie}
		if c.origin != "" {
			hdr["Referer"] = c.origin + "/page"
		}
		if got := status(t, ts, "POST", "/api/v1/auth/logout", "", hdr); got != c.want {
			t.Errorf("logout by cookie with Referer %q = %d, want %d", c.origin, got, c.want)
		}
	}
}
