package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

// scenario is one HTTP test case run against a fresh newTestServer.
type scenario struct {
	name       string
	caller     string // caller kind; "" = anonymous
	method     string // "" = GET
	path       string
	pathFn     func(ts *testServer) string // overrides path
	body       string
	header     map[string]string
	headerFn   func(ts *testServer) map[string]string // merged over header
	opts       []func(*testServerConfig)
	before     func(t *testing.T, ts *testServer)
	wantStatus int
	wantBody   []string // substrings the body must contain
	notBody    []string // substrings it must not contain
	check      func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder)
}

func runScenarios(t *testing.T, list []scenario) {
	t.Helper()
	for _, sc := range list {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, sc.opts...)
			if sc.before != nil {
				sc.before(t, ts)
			}
			method, path := sc.method, sc.path
			if method == "" {
				method = http.MethodGet
			}
			if sc.pathFn != nil {
				path = sc.pathFn(ts)
			}
			h := map[string]string{}
			for k, v := range sc.header {
				h[k] = v
			}
			if sc.headerFn != nil {
				for k, v := range sc.headerFn(ts) {
					h[k] = v
				}
			}
			caller := sc.caller
			if caller == "" {
				caller = callerAnonymous
			}
			rec := ts.call(t, caller, method, path, sc.body, h)
			if rec.Code != sc.wantStatus {
				t.Fatalf("%s %s = %d, want %d\n%s", method, path, rec.Code, sc.wantStatus, rec.Body)
			}
			for _, s := range sc.wantBody {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("body lacks %q:\n%s", s, rec.Body)
				}
			}
			for _, s := range sc.notBody {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("body contains %q:\n%s", s, rec.Body)
				}
			}
			if sc.check != nil {
				sc.check(t, ts, rec)
			}
		})
	}
}

const formCT = "application/x-www-form-urlencoded"

var formHeader = map[string]string{"Content-Type": formCT}

// loginAs logs name in through the API and returns the token object.
func loginAs(t *testing.T, ts *testServer, name, password string) tokenBody {
	t.Helper()
	rec := ts.call(t, callerAnonymous, http.MethodPost, "/api/v1/auth/login",
		"username="+name+"&password="+password, formHeader)
	if rec.Code != http.StatusOK {
		t.Fatalf("login %s = %d\n%s", name, rec.Code, rec.Body)
	}
	var tb tokenBody
	if err := json.Unmarshal(rec.Body.Bytes(), &tb); err != nil {
		t.Fatal(err)
	}
	return tb
}

// bearer is an Authorization header map.
func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// status sends a request without the caller's credential (header supplies it) and returns
// the status.
func status(t *testing.T, ts *testServer, method, path, body string, header map[string]string) int {
	t.Helper()
	return ts.call(t, callerAnonymous, method, path, body, header).Code
}

// newKey creates an API key through the API as kind with the JSON body and returns the key.
func newKey(t *testing.T, ts *testServer, kind, body string) string {
	t.Helper()
	rec := ts.call(t, kind, http.MethodPost, "/api/v1/users/api-keys", body, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("create key = %d\n%s", rec.Code, rec.Body)
	}
	var b newKeyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Key, auth.APIKeyPrefix) || b.APIKey != b.Key {
		t.Fatalf("key = %q, api_key = %q", b.Key, b.APIKey)
	}
	return b.Key
}

func TestLoginRoutes(t *testing.T) {
	wrong := `{"detail":"Incorrect username or password","code":"invalid_credentials"`
	runScenarios(t, []scenario{
		{name: "form", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body:       "username=alice&password=" + testPassword + "&grant_type=password&scope=&client_id=cli&client_secret=x",
			wantStatus: 200, wantBody: []string{`"access_token":"`, `"refresh_token":"`, `"token_type":"bearer"`, `"expires_in":1800`},
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
				var tb tokenBody
				_ = json.Unmarshal(rec.Body.Bytes(), &tb)
				if got := status(t, ts, "GET", "/api/v1/auth/me", "", bearer(tb.AccessToken)); got != 200 {
					t.Errorf("new access token: /auth/me = %d", got)
				}
				if len(ts.Audit.Find(audit.LoginSuccess)) != 1 {
					t.Errorf("login_success not audited: %v", ts.Audit.Actions())
				}
			}},
		{name: "form by email", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=ALICE%40example.com&password=" + testPassword, wantStatus: 200, wantBody: []string{`"access_token"`}},
		{name: "multipart", method: "POST", path: "/api/v1/auth/login",
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=XX"},
			body: "--XX\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n" +
				"--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + testPassword + "\r\n--XX--\r\n",
			wantStatus: 200, wantBody: []string{`"access_token"`}},
		{name: "json", method: "POST", path: "/api/v1/auth/login",
			body: `{"username":"alice","password":"` + testPassword + `"}`, wantStatus: 200, wantBody: []string{`"refresh_token"`}},
		{name: "wrong password", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=alice&password=Wrong-Horse-7491!", wantStatus: 401, wantBody: []string{wrong},
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("WWW-Authenticate") != "Bearer" {
					t.Error("no WWW-Authenticate: Bearer")
				}
				if ev := ts.Audit.Find(audit.LoginFailed); len(ev) != 1 || ev[0].Username != "alice" || ev[0].IP != "192.0.2.1" {
					t.Errorf("login_failed events = %+v", ev)
				}
			}},
		{name: "unknown user", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=nobody&password=" + testPassword, wantStatus: 401, wantBody: []string{wrong}},
		{name: "empty password", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=alice&password=", wantStatus: 401, wantBody: []string{wrong}},
		{name: "missing password", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=alice", wantStatus: 422,
			wantBody: []string{`"detail":[{"loc":["body","password"],"msg":"field required","type":"value_error.missing"}]`}},
		{name: "credentials in query string are not read", method: "POST", header: formHeader,
			path: "/api/v1/auth/login?username=alice&password=" + testPassword, wantStatus: 422},
		{name: "text/plain refused", method: "POST", path: "/api/v1/auth/login",
			header: map[string]string{"Content-Type": "text/plain"},
			body:   `{"username":"alice","password":"` + testPassword + `"}`, wantStatus: 415},
		{name: "oversized body", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			opts: []func(*testServerConfig){withHTTP(func(o *Options) { o.MaxJSONBytes = 64 })},
			body: "username=alice&password=" + strings.Repeat("x", 100), wantStatus: 413},
		{name: "inactive", method: "POST", path: "/api/v1/auth/login", header: formHeader,
			body: "username=alice&password=" + testPassword,
			before: func(t *testing.T, ts *testServer) {
				off := false
				if _, err := ts.Stores.Users.UpdateUser(context.Background(), ts.Accounts[callerUser].User.ID, auth.UserPatch{IsActive: &off}); err != nil {
					t.Fatal(err)
				}
			},
			wantStatus: 403, wantBody: []string{`"detail":"Account is inactive","code":"account_inactive"`}},
	})
}

func TestLoginLockout(t *testing.T) {
	ts := newTestServer(t)
	bad := "username=alice&password=Wrong-Horse-7491!"
	for i := 1; i <= 4; i++ {
		if got := status(t, ts, "POST", "/api/v1/auth/login", bad, formHeader); got != 401 {
			t.Fatalf("failure %d = %d, want 401", i, got)
		}
	}
	rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", bad, formHeader)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "900" {
		t.Fatalf("5th failure = %d Retry-After %q, want 429 900\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"code":"account_locked"`) {
		t.Errorf("body = %s", rec.Body)
	}
	ts.Clock.Advance(5 * time.Minute)
	good := "username=alice&password=" + testPassword
	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", good, formHeader)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "600" {
		t.Fatalf("locked, right password = %d Retry-After %q, want 429 600", rec.Code, rec.Header().Get("Retry-After"))
	}
	ts.Clock.Advance(10*time.Minute + time.Second)
	if got := status(t, ts, "POST", "/api/v1/auth/login", good, formHeader); got != 200 {
		t.Fatalf("after the lock = %d, want 200", got)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ts := newTestServer(t)
	first := loginAs(t, ts, "alice", testPassword)
	rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+first.RefreshToken+`"}`, nil)
	if rec.Code != 200 {
		t.Fatalf("refresh = %d\n%s", rec.Code, rec.Body)
	}
	var second tokenBody
	_ = json.Unmarshal(rec.Body.Bytes(), &second)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.TokenType != "bearer" || second.ExpiresIn != 1800 {
		t.Fatalf("refreshed pair = %+v", second)
	}
	if got := status(t, ts, "GET", "/api/v1/auth/me", "", bearer(second.AccessToken)); got != 200 {
		t.Fatalf("new access token = %d", got)
	}
	ts.Clock.Advance(time.Minute) // past the reuse grace window
	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+first.RefreshToken+`"}`, nil)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "Invalid or expired refresh token") {
		t.Fatalf("reused refresh token = %d\n%s", rec.Code, rec.Body)
	}
	if got := status(t, ts, "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+second.RefreshToken+`"}`, nil); got != 401 {
		t.Errorf("successor after reuse = %d, want 401 (family revoked)", got)
	}
	if len(ts.Audit.Find(audit.TokenReuseDetected)) == 0 {
		t.Errorf("reuse not audited: %v", ts.Audit.Actions())
	}
	for _, body := range []string{`{}`, ``, `{"refresh_token":null}`} {
		if got := status(t, ts, "POST", "/api/v1/auth/refresh", body, map[string]string{"Content-Type": "application/json"}); got != 422 {
			t.Errorf("refresh %q = %d, want 422", body, got)
		}
	}
	if got := status(t, ts, "POST", "/api/v1/auth/refresh", `{"refresh_token":"garbage"}`, nil); got != 401 {
		t.Errorf("garbage refresh token = %d, want 401", got)
	}
}

func TestLogout(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "no body", caller: callerUser, method: "POST", path: "/api/v1/auth/logout", wantStatus: 200,
			wantBody: []string{`"message":"Successfully logged out"`},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := ts.call(t, callerUser, "GET", "/api/v1/auth/me", "", nil).Code; got != 401 {
					t.Errorf("token after logout = %d, want 401", got)
				}
				if got := status(t, ts, "POST", "/api/v1/auth/refresh",
					`{"refresh_token":"`+ts.Accounts[callerUser].Refresh+`"}`, nil); got != 401 {
					t.Errorf("refresh after logout = %d, want 401", got)
				}
			}},
		{name: "all devices", caller: callerUser, method: "POST", path: "/api/v1/auth/logout", body: `{"all_devices":true}`,
			wantStatus: 200,
			before: func(t *testing.T, ts *testServer) {
				other := loginAs(t, ts, "alice", testPassword)
				ts.Accounts["alice2"] = &testAccount{Access: other.AccessToken}
			},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := status(t, ts, "GET", "/api/v1/auth/me", "", bearer(ts.Accounts["alice2"].Access)); got != 401 {
					t.Errorf("other device after logout all = %d, want 401", got)
				}
			}},
		{name: "one device", caller: callerUser, method: "POST", path: "/api/v1/auth/logout", body: `{"all_devices":false}`,
			wantStatus: 200,
			before: func(t *testing.T, ts *testServer) {
				other := loginAs(t, ts, "alice", testPassword)
				ts.Accounts["alice2"] = &testAccount{Access: other.AccessToken}
			},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := status(t, ts, "GET", "/api/v1/auth/me", "", bearer(ts.Accounts["alice2"].Access)); got != 200 {
					t.Errorf("other device after single logout = %d, want 200", got)
				}
			}},
		{name: "anonymous", method: "POST", path: "/api/v1/auth/logout", wantStatus: 401,
			wantBody: []string{`"detail":"Not authenticated","code":"not_authenticated"`}},
		{name: "bad body", caller: callerUser, method: "POST", path: "/api/v1/auth/logout", body: `{"all_devices":`,
			wantStatus: 400},
	})
}

func TestRegister(t *testing.T) {
	good := `"email":"eve@example.com","password":"Stable-Orbit-5820!"`
	runScenarios(t, []scenario{
		{name: "open registration", method: "POST", path: "/api/v1/auth/register",
			body: `{"username":"eve",` + good + `,"registration_code":null,"role":"admin","Role":"admin","is_active":false,` +
				`"is_verified":true,"storage_quota_mb":1,"id":1}`,
			wantStatus: 200,
			wantBody:   []string{`"message":"Registration successful"`, `"username":"eve"`, `"role":"user"`, `"requires_verification":true`},
			notBody:    []string{"password"},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				u, err := ts.Stores.Users.UserByLogin(context.Background(), "eve")
				if err != nil {
					t.Fatal(err)
				}
				if u.Role != auth.RoleUser || !u.IsActive || u.IsVerified || u.StorageQuotaMB != nil || u.ID == 1 {
					t.Errorf("registered user = %+v: a client field was applied", u)
				}
				if got := status(t, ts, "POST", "/api/v1/auth/login", "username=eve&password=Stable-Orbit-5820!", formHeader); got != 200 {
					t.Errorf("login of the new user = %d", got)
				}
			}},
		{name: "missing username", method: "POST", path: "/api/v1/auth/register", body: `{` + good + `}`,
			wantStatus: 422,
			wantBody:   []string{`{"detail":[{"loc":["body","username"],"msg":"field required","type":"value_error.missing"}]`}},
		{name: "all missing", method: "POST", path: "/api/v1/auth/register", body: `{}`, wantStatus: 422,
			wantBody: []string{`"loc":["body","username"]`, `"loc":["body","email"]`, `"loc":["body","password"]`}},
		{name: "wrong type", method: "POST", path: "/api/v1/auth/register", body: `{"username":5,` + good + `}`,
			wantStatus: 422, wantBody: []string{`"loc":["body","username"]`, `"type":"type_error.str"`}},
		{name: "malformed", method: "POST", path: "/api/v1/auth/register", body: `{"username":`, wantStatus: 400},
		{name: "text/plain", method: "POST", path: "/api/v1/auth/register", header: map[string]string{"Content-Type": "text/plain"},
			body: `{"username":"eve",` + good + `}`, wantStatus: 415},
		{name: "duplicate", method: "POST", path: "/api/v1/auth/register", body: `{"username":"ALICE",` + good + `}`,
			wantStatus: 409, wantBody: []string{`"code":"conflict"`}},
		{name: "weak password", method: "POST", path: "/api/v1/auth/register",
			body:       `{"username":"eve","email":"eve@example.com","password":"password"}`,
			wantStatus: 400, wantBody: []string{`"code":"invalid_request"`, `"errors":["`, `"detail":"Password does not meet requirements: `}},
		{name: "bad username", method: "POST", path: "/api/v1/auth/register", body: `{"username":"e v",` + good + `}`,
			wantStatus: 400, wantBody: []string{`"detail":"Username may contain only`}, notBody: []string{"auth:"}},
		{name: "closed", method: "POST", path: "/api/v1/auth/register", body: `{"username":"eve",` + good + `}`,
			opts:       []func(*testServerConfig){withAuth(func(o *auth.Options) { o.EnableRegistration = false })},
			wantStatus: 400, wantBody: []string{`"detail":"Registration is currently disabled","code":"invalid_request"`}},
		{name: "invite only without code", method: "POST", path: "/api/v1/auth/register", body: `{"username":"eve",` + good + `}`,
			opts:       []func(*testServerConfig){withAuth(func(o *auth.Options) { o.RequireRegistrationCode = true })},
			wantStatus: 400, wantBody: []string{`"detail":"Registration code required"`}},
		{name: "invite only with bad code", method: "POST", path: "/api/v1/auth/register",
			body:       `{"username":"eve",` + good + `,"registration_code":"NOPE"}`,
			opts:       []func(*testServerConfig){withAuth(func(o *auth.Options) { o.RequireRegistrationCode = true })},
			wantStatus: 400, wantBody: []string{`"detail":"Invalid registration code"`}},
	})
}

func TestProfileRoutes(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "auth/me", caller: callerUser, path: "/api/v1/auth/me", wantStatus: 200,
			wantBody: []string{`"username":"alice"`, `"email":"alice@example.com"`, `"role":"user"`, `"is_active":true`,
				`"is_verified":true`, `"must_change_password":false`, `"created_at":"2026-03-04T05:06:07Z"`,
				`"last_login":"2026-03-04T05:06:07Z"`, `"storage_quota_mb":null`, `"storage_used_mb":0`, `"uuid":"`},
			notBody: []string{"password_hash", "$argon2"},
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				m := decodeJSON(t, rec)
				if m["id"] != float64(ts.Accounts[callerUser].User.ID) {
					t.Errorf("id = %v", m["id"])
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			}},
		{name: "users/me as service key", caller: callerService, path: "/api/v1/users/me", wantStatus: 200,
			wantBody: []string{`"username":"svcbot"`, `"role":"service"`}},
		{name: "update email only", caller: callerUser, method: "PUT", path: "/api/v1/users/me",
			body:       `{"email":"alice2@example.com","role":"admin","is_active":false,"storage_quota_mb":99999,"username":"root2","current_password":"` + testPassword + `"}`,
			wantStatus: 200, wantBody: []string{`"email":"alice2@example.com"`, `"role":"user"`, `"username":"alice"`, `"is_active":true`}},
		{name: "update with bad email", caller: callerUser, method: "PUT", path: "/api/v1/users/me",
			body: `{"email":"not an email","current_password":"` + testPassword + `"}`, wantStatus: 400, wantBody: []string{`"code":"invalid_request"`}},
		{name: "update email without current password", caller: callerUser, method: "PUT", path: "/api/v1/users/me",
			body: `{"email":"alice2@example.com"}`, wantStatus: 400, wantBody: []string{`"code":"current_password_required"`}},
		{name: "update email with wrong current password", caller: callerUser, method: "PUT", path: "/api/v1/users/me",
			body: `{"email":"alice2@example.com","current_password":"Wrong-Password-1!"}`, wantStatus: 401,
			wantBody: []string{`"code":"invalid_credentials"`, `"detail":"Current password is incorrect"`}},
		{name: "update with taken email", caller: callerUser, method: "PUT", path: "/api/v1/users/me",
			body: `{"email":"ROOT@example.com","current_password":"` + testPassword + `"}`, wantStatus: 409},
		{name: "change password", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body:       `{"current_password":"` + testPassword + `","new_password":"Stable-Orbit-5820!"}`,
			wantStatus: 200, wantBody: []string{`"message":"Password changed successfully"`},
			before: func(t *testing.T, ts *testServer) {
				other := loginAs(t, ts, "alice", testPassword)
				ts.Accounts["alice2"] = &testAccount{Access: other.AccessToken}
			},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := ts.call(t, callerUser, "GET", "/api/v1/users/me", "", nil).Code; got != 200 {
					t.Errorf("current session after change = %d, want 200", got)
				}
				if got := status(t, ts, "GET", "/api/v1/users/me", "", bearer(ts.Accounts["alice2"].Access)); got != 401 {
					t.Errorf("other session after change = %d, want 401", got)
				}
				loginAs(t, ts, "alice", "Stable-Orbit-5820!")
			}},
		{name: "change password revokes API keys", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body:       `{"current_password":"` + testPassword + `","new_password":"Stable-Orbit-5820!"}`,
			wantStatus: 200,
			before: func(t *testing.T, ts *testServer) {
				_, full := ts.createKey(t, ts.Accounts[callerUser], auth.ScopeRead)
				ts.Accounts["alicekey"] = &testAccount{APIKey: full}
			},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": ts.Accounts["alicekey"].APIKey}); got != 401 {
					t.Errorf("API key after password change = %d, want 401", got)
				}
			}},
		{name: "change password keeping API keys", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body:       `{"current_password":"` + testPassword + `","new_password":"Stable-Orbit-5820!","revoke_api_keys":false}`,
			wantStatus: 200,
			before: func(t *testing.T, ts *testServer) {
				_, full := ts.createKey(t, ts.Accounts[callerUser], auth.ScopeRead)
				ts.Accounts["alicekey"] = &testAccount{APIKey: full}
			},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": ts.Accounts["alicekey"].APIKey}); got != 200 {
					t.Errorf("API key after password change with revoke_api_keys false = %d, want 200", got)
				}
			}},
		{name: "change password wrong current", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body:       `{"current_password":"Nope-Nope-4826!","new_password":"Stable-Orbit-5820!"}`,
			wantStatus: 401, wantBody: []string{`"detail":"Current password is incorrect"`}},
		{name: "change password weak", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body:       `{"current_password":"` + testPassword + `","new_password":"short"}`,
			wantStatus: 400, wantBody: []string{`"errors":["`}},
		{name: "change password missing", caller: callerUser, method: "POST", path: "/api/v1/users/change-password",
			body: `{"current_password":"x"}`, wantStatus: 422, wantBody: []string{`"loc":["body","new_password"]`}},
	})
}

func TestSessionRoutes(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "list", caller: callerUser, path: "/api/v1/auth/sessions", wantStatus: 200,
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				var list []map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 {
					t.Fatalf("sessions = %s (%v)", rec.Body, err)
				}
				s := list[0]
				if s["id"] != float64(ts.Accounts[callerUser].Session) || s["is_current"] != true ||
					s["ip_address"] != "192.0.2.1" || s["user_agent"] != "setup" {
					t.Errorf("session = %v", s)
				}
				for _, f := range []string{"created_at", "last_activity", "expires_at"} {
					if _, err := time.Parse(time.RFC3339, fmt.Sprint(s[f])); err != nil {
						t.Errorf("%s = %v", f, s[f])
					}
				}
				for k := range s {
					if strings.Contains(k, "hash") || strings.Contains(k, "token") {
						t.Errorf("session item has field %q", k)
					}
				}
				if strings.Contains(rec.Body.String(), ts.Accounts[callerUser].Refresh) {
					t.Error("session listing carries the refresh token")
				}
			}},
		{name: "users/sessions lists only own", caller: callerUser, path: "/api/v1/users/sessions", wantStatus: 200,
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				var list []sessionBody
				_ = json.Unmarshal(rec.Body.Bytes(), &list)
				if len(list) != 1 || list[0].ID != ts.Accounts[callerUser].Session {
					t.Errorf("sessions = %+v", list)
				}
			}},
		{name: "revoke another user's session", caller: callerUser, method: "DELETE",
			pathFn: func(ts *testServer) string {
				return fmt.Sprintf("/api/v1/users/sessions/%d", ts.Accounts[callerAdmin].Session)
			},
			wantStatus: 404,
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := ts.call(t, callerAdmin, "GET", "/api/v1/users/me", "", nil).Code; got != 200 {
					t.Errorf("admin session after user's attempt = %d", got)
				}
			}},
		{name: "revoke own session", caller: callerUser, method: "DELETE",
			pathFn: func(ts *testServer) string {
				return fmt.Sprintf("/api/v1/auth/sessions/%d", ts.Accounts[callerUser].Session)
			},
			wantStatus: 200, wantBody: []string{`"message":"Session revoked successfully"`},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := ts.call(t, callerUser, "GET", "/api/v1/users/me", "", nil).Code; got != 401 {
					t.Errorf("revoked session = %d, want 401", got)
				}
			}},
		{name: "huge session id", caller: callerUser, method: "DELETE", path: "/api/v1/users/sessions/99999999999999999999999",
			wantStatus: 404},
		{name: "revoke all others", caller: callerUser, method: "POST", path: "/api/v1/users/sessions/revoke-all",
			before: func(t *testing.T, ts *testServer) {
				other := loginAs(t, ts, "alice", testPassword)
				ts.Accounts["alice2"] = &testAccount{Access: other.AccessToken}
			},
			wantStatus: 200, wantBody: []string{`"message":"Successfully revoked 1 sessions"`, `"sessions_revoked":1`},
			check: func(t *testing.T, ts *testServer, _ *httptest.ResponseRecorder) {
				if got := ts.call(t, callerUser, "GET", "/api/v1/users/me", "", nil).Code; got != 200 {
					t.Errorf("current session = %d, want 200", got)
				}
				if got := status(t, ts, "GET", "/api/v1/users/me", "", bearer(ts.Accounts["alice2"].Access)); got != 401 {
					t.Errorf("other session = %d, want 401", got)
				}
			}},
	})
}

func TestAPIKeyRoutes(t *testing.T) {
	ts := newTestServer(t)
	key := newKey(t, ts, callerUser, `{"name":"cli","scopes":["read","write"],"expires_in_days":30}`)
	for name, h := range map[string]map[string]string{
		"X-API-KEY":                 {"X-API-KEY": key},
		"Bearer":                    bearer(key),
		"stale key + valid JWT":     {"X-API-KEY": auth.APIKeyPrefix + "000000000000." + strings.Repeat("A", 43), "Authorization": "Bearer " + ts.Accounts[callerUser].Access},
		"valid key + garbage token": {"X-API-KEY": key, "Authorization": "Bearer not-a-token"},
	} {
		if got := status(t, ts, "GET", "/api/v1/users/me", "", h); got != 200 {
			t.Errorf("%s: /users/me = %d, want 200", name, got)
		}
	}

	rec := ts.call(t, callerUser, "GET", "/api/v1/users/api-keys", "", nil)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), key) || strings.Contains(rec.Body.String(), "hash") ||
		!strings.Contains(rec.Body.String(), `"key_prefix":"`+key[:len(auth.APIKeyPrefix)+12]+`"`) ||
		!strings.Contains(rec.Body.String(), `"scopes":["read","write"]`) || !strings.Contains(rec.Body.String(), `"revoked":false`) {
		t.Errorf("list = %d\n%s", rec.Code, rec.Body)
	}
	var list []apiKeyBody
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	if len(list) != 1 || list[0].ExpiresAt == nil || *list[0].ExpiresAt != "2026-04-03T05:06:07Z" || list[0].Scope != "write" {
		t.Fatalf("list = %+v", list)
	}
	id := list[0].ID

	// A read key cannot write, and the denial is audited.
	readKey := newKey(t, ts, callerUser, `{"name":"ro","scope":"read"}`)
	ts.Audit.Reset()
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": readKey}); got != 200 {
		t.Errorf("read key GET = %d", got)
	}
	rec = ts.call(t, callerAnonymous, "PUT", "/api/v1/users/me", `{"email":"x@example.com"}`,
		map[string]string{"X-API-KEY": readKey, "X-Forwarded-For": "198.51.100.9"})
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"code":"forbidden"`) {
		t.Errorf("read key PUT = %d\n%s", rec.Code, rec.Body)
	}
	if ev := ts.Audit.Find(audit.AccessDenied); len(ev) != 1 || ev[0].Username != "alice" || ev[0].IP != "192.0.2.1" ||
		ev[0].Details["permission"] != string(auth.PermAccountWrite) || ev[0].Method != "PUT" || ev[0].RequestID == "" {
		t.Errorf("access_denied events = %+v", ev)
	}
	if got := status(t, ts, "POST", "/api/v1/users/api-keys", `{"scopes":["write"]}`, map[string]string{"X-API-KEY": readKey}); got != 403 {
		t.Errorf("read key minting a key = %d, want 403", got)
	}

	// Rotation: the old secret stops working, the new one works.
	rec = ts.call(t, callerUser, "POST", fmt.Sprintf("/api/v1/users/api-keys/%d/rotate", id), "", nil)
	var rotated newKeyBody
	_ = json.Unmarshal(rec.Body.Bytes(), &rotated)
	if rec.Code != 200 || rotated.Key == "" || rotated.Key == key || rotated.ID != id {
		t.Fatalf("rotate = %d\n%s", rec.Code, rec.Body)
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": key}); got != 401 {
		t.Errorf("old key after rotation = %d, want 401", got)
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": rotated.Key}); got != 200 {
		t.Errorf("rotated key = %d, want 200", got)
	}
	// Another user's key is not found.
	if got := ts.call(t, callerModerator, "DELETE", fmt.Sprintf("/api/v1/users/api-keys/%d", id), "", nil).Code; got != 404 {
		t.Errorf("moderator revoking alice's key = %d, want 404", got)
	}
	rec = ts.call(t, callerUser, "DELETE", fmt.Sprintf("/api/v1/users/api-keys/%d", id), "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"message":"API key revoked"`) {
		t.Errorf("revoke = %d\n%s", rec.Code, rec.Body)
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"X-API-KEY": rotated.Key}); got != 401 {
		t.Errorf("revoked key = %d, want 401", got)
	}

	for _, c := range []struct {
		body string
		want int
	}{
		{`{"scopes":["root"]}`, 400},
		{`{"scopes":["admin"]}`, 403},
		{`{"expires_in_days":0}`, 400},
		{`{"expires_in_days":100000}`, 400},
		{`{"scope":5}`, 422},
		{`{"name":7}`, 422},
	} {
		if got := ts.call(t, callerUser, "POST", "/api/v1/users/api-keys", c.body, nil).Code; got != c.want {
			t.Errorf("create %s = %d, want %d", c.body, got, c.want)
		}
	}
	if got := ts.call(t, callerAdmin, "POST", "/api/v1/users/api-keys", `{"scopes":["admin"]}`, nil).Code; got != 200 {
		t.Errorf("admin creating an admin key = %d, want 200", got)
	}
}

func TestCredentialSources(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "api_key in query ignored", path: "/api/v1/users/me", wantStatus: 401,
			pathFn: func(ts *testServer) string { return "/api/v1/users/me?api_key=" + ts.Accounts[callerService].APIKey }},
		{name: "token in query ignored", wantStatus: 401,
			pathFn: func(ts *testServer) string { return "/api/v1/users/me?token=" + ts.Accounts[callerUser].Access }},
		{name: "access_token in query ignored", wantStatus: 401,
			pathFn: func(ts *testServer) string { return "/api/v1/users/me?access_token=" + ts.Accounts[callerUser].Access }},
		{name: "oversized Authorization", path: "/api/v1/users/me", wantStatus: 401,
			header: map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 9<<10)}},
		{name: "oversized X-API-KEY", path: "/api/v1/users/me", wantStatus: 401,
			header: map[string]string{"X-API-KEY": strings.Repeat("a", 9<<10)}},
		{name: "garbage bearer", path: "/api/v1/users/me", wantStatus: 401, header: bearer("a.b.c"),
			wantBody: []string{`"detail":"Could not validate credentials","code":"not_authenticated"`}},
		{name: "basic auth is no credential", path: "/api/v1/users/me", wantStatus: 401,
			header: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, wantBody: []string{`"detail":"Not authenticated"`}},
		{name: "lower-case bearer scheme", path: "/api/v1/users/me", wantStatus: 200,
			headerFn: func(ts *testServer) map[string]string {
				return map[string]string{"Authorization": "bearer " + ts.Accounts[callerUser].Access}
			}},
		{name: "refresh token is not an access token", path: "/api/v1/users/me", wantStatus: 401,
			headerFn: func(ts *testServer) map[string]string { return bearer(ts.Accounts[callerUser].Refresh) }},
		{name: "expired access token", path: "/api/v1/users/me", wantStatus: 401,
			before:   func(t *testing.T, ts *testServer) { ts.Clock.Advance(31 * time.Minute) },
			headerFn: func(ts *testServer) map[string]string { return bearer(ts.Accounts[callerUser].Access) }},
	})
}

// flakySessions fails SessionByID while fail is set (a broken backend).
type flakySessions struct {
	auth.SessionStore
	fail *atomic.Bool
}

func (f flakySessions) SessionByID(ctx context.Context, id int64) (*auth.Session, error) {
	if f.fail.Load() {
		return nil, errors.New("db: connection refused")
	}
	return f.SessionStore.SessionByID(ctx, id)
}

func TestVerify(t *testing.T) {
	uid := func(ts *testServer, kind string) string { return ts.id(kind) }
	uri := func(f func(ts *testServer) string) func(ts *testServer) map[string]string {
		return func(ts *testServer) map[string]string { return map[string]string{"X-Original-URI": f(ts)} }
	}
	forbidden := func(name string, f func(ts *testServer) string) scenario {
		return scenario{name: name, caller: callerUser, path: "/api/v1/auth/verify", headerFn: uri(f), wantStatus: 403}
	}
	empty := func(t *testing.T, _ *testServer, rec *httptest.ResponseRecorder) {
		if rec.Body.Len() != 0 {
			t.Errorf("body = %q, want empty", rec.Body)
		}
	}
	var fail atomic.Bool
	runScenarios(t, []scenario{
		{name: "owner", caller: callerUser, path: "/api/v1/auth/verify", wantStatus: 200,
			headerFn: uri(func(ts *testServer) string { return "/media/" + uid(ts, callerUser) + "/video.mp4?x=1" }),
			check: func(t *testing.T, ts *testServer, rec *httptest.ResponseRecorder) {
				empty(t, ts, rec)
				h := rec.Header()
				if h.Get("X-User-Id") != uid(ts, callerUser) || h.Get("X-User-Name") != "alice" || h.Get("X-User-Role") != "user" {
					t.Errorf("identity headers = %v", h)
				}
			}},
		{name: "no original uri", caller: callerUser, path: "/api/v1/auth/verify", wantStatus: 200},
		{name: "HEAD", caller: callerUser, method: "HEAD", path: "/api/v1/auth/verify", wantStatus: 200},
		{name: "service key on own media", caller: callerService, path: "/api/v1/auth/verify", wantStatus: 200,
			headerFn: uri(func(ts *testServer) string { return "/media/" + uid(ts, callerService) + "/a" })},
		{name: "admin on another's media", caller: callerAdmin, path: "/api/v1/auth/verify", wantStatus: 200,
			headerFn: uri(func(ts *testServer) string { return "/media/" + uid(ts, callerUser) + "/a" })},
		{name: "no credential", path: "/api/v1/auth/verify", wantStatus: 401, check: empty,
			headerFn: uri(func(ts *testServer) string { return "/media/1/a" })},
		{name: "revoked token", caller: callerUser, path: "/api/v1/auth/verify", wantStatus: 401, check: empty,
			before: func(t *testing.T, ts *testServer) {
				if got := ts.call(t, callerUser, "POST", "/api/v1/auth/logout", "", nil).Code; got != 200 {
					t.Fatalf("logout = %d", got)
				}
			}},
		{name: "backend failure is 401, never 5xx", caller: callerUser, path: "/api/v1/auth/verify", wantStatus: 401, check: empty,
			opts: []func(*testServerConfig){withAuth(func(o *auth.Options) {
				o.Sessions = flakySessions{SessionStore: o.Sessions, fail: &fail}
			})},
			before: func(t *testing.T, ts *testServer) {
				fail.Store(true)
				t.Cleanup(func() { fail.Store(false) })
				if got := ts.call(t, callerUser, "GET", "/api/v1/users/me", "", nil).Code; got != 500 {
					t.Errorf("broken backend on a REST route = %d, want 500 (a backend failure is not a bad credential)", got)
				}
			}},
		forbidden("other user's media", func(ts *testServer) string { return "/media/" + uid(ts, callerAdmin) + "/a" }),
		forbidden("media root", func(ts *testServer) string { return "/media/" }),
		forbidden("dot segments", func(ts *testServer) string {
			return "/media/" + uid(ts, callerUser) + "/../" + uid(ts, callerAdmin) + "/a"
		}),
		forbidden("encoded dot segments", func(ts *testServer) string {
			return "/media/" + uid(ts, callerUser) + "/%2e%2e/" + uid(ts, callerAdmin) + "/a"
		}),
		forbidden("doubled slashes", func(ts *testServer) string { return "//media//" + uid(ts, callerAdmin) + "//a" }),
		forbidden("upper case", func(ts *testServer) string { return "/MEDIA/" + uid(ts, callerAdmin) + "/a" }),
		forbidden("encoded prefix", func(ts *testServer) string { return "/%6dedia/" + uid(ts, callerAdmin) + "/a" }),
		forbidden("bad escape", func(ts *testServer) string { return "/media/%zz/a" }),
		forbidden("CRLF", func(ts *testServer) string { return "/media/" + uid(ts, callerUser) + "/a\r\nX-Injected: 1" }),
		forbidden("encoded CRLF", func(ts *testServer) string { return "/media/" + uid(ts, callerUser) + "/a%0d%0aX: 1" }),
		forbidden("backslash", func(ts *testServer) string { return "/media/" + uid(ts, callerUser) + "\\..\\" + uid(ts, callerAdmin) }),
		forbidden("relative", func(ts *testServer) string { return "media/" + uid(ts, callerAdmin) }),
		forbidden("16 KiB", func(ts *testServer) string {
			return "/media/" + uid(ts, callerUser) + "/" + strings.Repeat("a", 16<<10)
		}),
	})

	ts := newTestServer(t)
	for _, p := range []string{"//api/v1/auth/verify", "/api/v1/./auth/verify", "/api/v1/auth//verify",
		"/api/v1/auth/verify/", "/api/v1/auth/x/../verify"} {
		rec := ts.call(t, callerUser, "GET", p, "", nil)
		if rec.Code >= 300 && rec.Code < 400 || rec.Code >= 500 {
			t.Errorf("GET %s = %d: nginx would turn this into a 500", p, rec.Code)
		}
	}
	if got := ts.call(t, callerUser, "GET", "/api/v1/auth/verify?x=/../", "", nil).Code; got != 200 {
		t.Errorf("exact path with a query = %d, want 200", got)
	}
}

func TestJWKSWithHS256(t *testing.T) {
	ts := newTestServer(t)
	if got := ts.call(t, callerAnonymous, "GET", "/.well-known/jwks.json", "", nil).Code; got != 404 {
		t.Errorf("JWKS with HS256 = %d, want 404", got)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		header  map[string]string
		want    string
	}{
		{"untrusted peer's X-Forwarded-For ignored", nil, "203.0.113.5:4000",
			map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "7.7.7.7"}, "203.0.113.5"},
		{"untrusted peer with trusted list", trusted, "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "6.6.6.6"}, "203.0.113.5"},
		{"trusted proxy", trusted, "192.0.2.9:4000", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"right-most untrusted hop wins", trusted, "192.0.2.9:4000",
			map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"all hops trusted", trusted, "192.0.2.9:4000", map[string]string{"X-Forwarded-For": "10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage hop stops the walk", trusted, "192.0.2.9:4000",
			map[string]string{"X-Forwarded-For": "6.6.6.6, bogus, 10.1.2.3"}, "10.1.2.3"},
		{"hop with port", trusted, "192.0.2.9:4000", map[string]string{"X-Forwarded-For": "[2001:db8::1]:443"}, "2001:db8::1"},
		{"X-Real-IP from a trusted proxy", trusted, "192.0.2.9:4000", map[string]string{"X-Real-IP": "198.51.100.8"}, "198.51.100.8"},
		{"bad X-Real-IP", trusted, "192.0.2.9:4000", map[string]string{"X-Real-IP": "nope"}, "192.0.2.9"},
		{"mapped IPv4 peer", nil, "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
		{"unix socket", trusted, "@", map[string]string{"X-Forwarded-For": "6.6.6.6"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &core{o: Options{TrustedProxies: c.trusted}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			if got := s.clientIP(r); got != c.want {
				t.Errorf("clientIP = %q, want %q", got, c.want)
			}
		})
	}
}

func TestAuditedIPIgnoresSpoofing(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"untrusted peer", nil, "192.0.2.1"},
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, "203.0.113.66"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, withHTTP(func(o *Options) { o.TrustedProxies = c.trusted }))
			rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", "username=alice&password=Wrong-Horse-7491!",
				map[string]string{"Content-Type": formCT, "X-Forwarded-For": "203.0.113.66", "User-Agent": "ua-test"})
			if rec.Code != 401 {
				t.Fatalf("login = %d", rec.Code)
			}
			ev := ts.Audit.Find(audit.LoginFailed)
			if len(ev) != 1 || ev[0].IP != c.want || ev[0].UserAgent != "ua-test" || ev[0].RequestID == "" ||
				ev[0].Path != "/api/v1/auth/login" {
				t.Errorf("login_failed = %+v, want IP %s", ev, c.want)
			}
		})
	}
}

// cookieJar collects the cookies a response sets.
func setCookies(rec *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestCookieMode(t *testing.T) {
	cookieOpts := withHTTP(func(o *Options) { o.AuthCookies = true })
	ts := newTestServer(t, cookieOpts)
	rec := ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", "username=alice&password="+testPassword, formHeader)
	if rec.Code != 200 {
		t.Fatalf("login = %d", rec.Code)
	}
	cs := setCookies(rec)
	access, refresh, csrf := cs["tldw_access"], cs["tldw_refresh"], cs["tldw_csrf"]
	if access == nil || refresh == nil || csrf == nil {
		t.Fatalf("cookies = %v", rec.Header().Values("Set-Cookie"))
	}
	if !access.HttpOnly || !refresh.HttpOnly || csrf.HttpOnly || access.SameSite != http.SameSiteLaxMode || access.Path != "/" {
		t.Errorf("cookie attributes: %v", rec.Header().Values("Set-Cookie"))
	}
	cookie := "tldw_access=" + access.Value + "; tldw_csrf=" + csrf.Value + "; tldw_refresh=" + refresh.Value
	h := func(extra ...string) map[string]string {
		m := map[string]string{"Cookie": cookie}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", h()); got != 200 {
		t.Errorf("GET by cookie = %d", got)
	}
	for _, c := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no CSRF proof", h(), 403},
		{"wrong CSRF token", h("X-CSRF-Token", "nope"), 403},
		{"foreign Origin", h("Origin", "https://evil.example"), 403},
		{"null Origin", h("Origin", "null"), 403},
		{"same Origin", h("Origin", "http://example.com"), 200},
		{"CSRF token", h("X-CSRF-Token", csrf.Value), 200},
	} {
		rec := ts.call(t, callerAnonymous, "PUT", "/api/v1/users/me", `{}`, c.header)
		if rec.Code != c.want {
			t.Errorf("%s: PUT by cookie = %d, want %d\n%s", c.name, rec.Code, c.want, rec.Body)
		}
	}
	if got := status(t, ts, "PUT", "/api/v1/users/me", `{"email":"x@example.com"}`,
		h("X-CSRF-Token", csrf.Value, "Content-Type", "text/plain")); got != 415 {
		t.Errorf("text/plain body by cookie = %d, want 415", got)
	}
	// Refresh by cookie needs CSRF proof too, and renews the cookies.
	if got := status(t, ts, "POST", "/api/v1/auth/refresh", "", h()); got != 403 {
		t.Errorf("refresh by cookie without CSRF = %d, want 403", got)
	}
	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/auth/refresh", "", h("X-CSRF-Token", csrf.Value))
	if rec.Code != 200 || setCookies(rec)["tldw_refresh"] == nil || setCookies(rec)["tldw_refresh"].Value == refresh.Value {
		t.Fatalf("refresh by cookie = %d %v", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	newAccess := setCookies(rec)["tldw_access"].Value
	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/auth/logout", "",
		map[string]string{"Cookie": "tldw_access=" + newAccess, "Origin": "http://example.com"})
	if rec.Code != 200 || setCookies(rec)["tldw_access"] == nil || setCookies(rec)["tldw_access"].MaxAge >= 0 {
		t.Errorf("logout by cookie = %d %v", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"Cookie": "tldw_access=" + newAccess}); got != 401 {
		t.Errorf("cookie after logout = %d, want 401", got)
	}

	// Secure cookies use the __Host- prefix.
	ts = newTestServer(t, withHTTP(func(o *Options) { o.AuthCookies, o.SecureCookies, o.CookieSameSite = true, true, "strict" }))
	rec = ts.call(t, callerAnonymous, "POST", "/api/v1/auth/login", "username=alice&password="+testPassword, formHeader)
	cs = setCookies(rec)
	for _, n := range []string{"__Host-tldw_access", "__Host-tldw_refresh", "__Host-tldw_csrf"} {
		if c := cs[n]; c == nil || !c.Secure || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s = %+v", n, c)
		}
	}
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"Cookie": "__Host-tldw_access=" + cs["__Host-tldw_access"].Value}); got != 200 {
		t.Errorf("GET by __Host- cookie = %d", got)
	}

	// Without cookie mode a cookie is no credential.
	ts = newTestServer(t)
	if got := status(t, ts, "GET", "/api/v1/users/me", "", map[string]string{"Cookie": "tldw_access=" + ts.Accounts[callerUser].Access}); got != 401 {
		t.Errorf("cookie without AuthCookies = %d, want 401", got)
	}
}

func TestGate(t *testing.T) {
	private := route{Method: "GET", Path: "/api/v1/private", Perm: auth.PermMediaRead, Tag: "test",
		Responses: map[int]string{200: "ok"}, Response: map[string]string{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			p := principalFrom(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"user":%q,"via":%q}`, p.Username, p.Via)
			return nil
		}}
	// Without an auth service every non-public route is 401.
	s, err := newServer(Options{}, private)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer x.y.z"}, {"X-API-KEY": "k"}} {
		rec := request{path: "/api/v1/private", header: h}.do(t, s)
		if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("nil Auth, headers %v: %d", h, rec.Code)
		}
	}
	ts := newTestServer(t, func(c *testServerConfig) { c.Extra = []route{private} })
	rec := ts.call(t, callerService, "GET", "/api/v1/private", "", nil)
	if rec.Code != 200 || rec.Body.String() != `{"user":"svcbot","via":"api_key"}` {
		t.Errorf("principal in context: %d %s", rec.Code, rec.Body)
	}
}

func TestAuthErrorTable(t *testing.T) {
	now := fixedNow
	for _, c := range []struct {
		name       string
		err        error
		status     int
		code       string
		detail     string
		retryAfter string
		errors     []string
	}{
		{"locked", &auth.LockedError{Until: now.Add(90 * time.Second)}, 429, "account_locked",
			"Too many failed login attempts. Account temporarily locked.", "90", nil},
		{"locked rounds up", fmt.Errorf("x: %w", &auth.LockedError{Until: now.Add(1500 * time.Millisecond)}), 429, "account_locked", "", "2", nil},
		{"busy", fmt.Errorf("%w: all slots taken", auth.ErrBusy), 503, "busy", "Server busy, please retry", "1", nil},
		{"inactive", fmt.Errorf("%w: account is inactive", auth.ErrInactive), 403, "account_inactive", "Account is inactive", "", nil},
		{"unauthenticated", fmt.Errorf("%w: session 7 revoked by admin", auth.ErrUnauthenticated), 401, "invalid_credentials",
			"Could not validate credentials", "", nil},
		{"expired", fmt.Errorf("%w: %w: token expired", auth.ErrUnauthenticated, auth.ErrExpired), 401, "invalid_credentials", "", "", nil},
		{"conflict", fmt.Errorf("auth: registering user: %w", auth.Detailf(auth.ErrConflict, "username is taken")), 409, "conflict",
			"Username is taken", "", nil},
		{"not found", auth.Detailf(auth.ErrNotFound, "user %d not found", 5), 404, "not_found", "User 5 not found", "", nil},
		{"bare not found", auth.ErrNotFound, 404, "not_found", "Not found", "", nil},
		{"forbidden", auth.Detailf(auth.ErrForbidden, "a moderator may not do this to a admin account"), 403, "forbidden",
			"A moderator may not do this to a admin account", "", nil},
		{"invalid joined", errors.Join(auth.Detailf(auth.ErrInvalid, "username must be 3 to 50 characters"),
			fmt.Errorf("checking: %w", auth.Detailf(auth.ErrInvalid, "email is required"))), 400, "invalid_request",
			"Username must be 3 to 50 characters; Email is required", "", nil},
		{"policy", &auth.PolicyError{Problems: []string{"Too short", "Needs a digit"}}, 400, "invalid_request",
			"Password does not meet requirements: Too short; Needs a digit", "", []string{"Too short", "Needs a digit"}},
		{"text is never detail", fmt.Errorf("%w: auth: loading: pq: SELECT password_hash", auth.ErrInvalid), 400,
			"invalid_request", "Invalid request", "", nil},
		{"control characters fall back", auth.Detailf(auth.ErrConflict, "bad\x1b[31m"), 409, "conflict", "Already exists", "", nil},
		{"store failure", fmt.Errorf("auth: loading user: %w", errors.New("pq: password=hunter2")), 500, "internal_error",
			"internal error", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err
			s, e := newServer(Options{Now: func() time.Time { return now }}, route{Method: "GET", Path: "/api/v1/err",
				Public: true, Tag: "test", Responses: map[int]string{200: "never"}, ByStatus: map[int]any{200: noBody{}},
				Handler: func(http.ResponseWriter, *http.Request) error { return err }})
			if e != nil {
				t.Fatal(e)
			}
			rec := request{path: "/api/v1/err"}.do(t, s)
			var body struct {
				Detail string   `json:"detail"`
				Code   string   `json:"code"`
				Errors []string `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if rec.Code != c.status || body.Code != c.code || c.detail != "" && body.Detail != c.detail ||
				rec.Header().Get("Retry-After") != c.retryAfter || fmt.Sprint(body.Errors) != fmt.Sprint(c.errors) {
				t.Errorf("got %d %q %q %v Retry-After %q, want %d %q %q %v %q", rec.Code, body.Code, body.Detail, body.Errors,
					rec.Header().Get("Retry-After"), c.status, c.code, c.detail, c.errors, c.retryAfter)
			}
			for _, leak := range []string{"auth:", "pq:", "hunter2", "session 7", "\x1b"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, rec.Body)
				}
			}
			if c.status == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestAccountRoutesDocumented: with an auth service the account routes are in the OpenAPI
// document, which stays valid; public ones say so, the others inherit the global security.
func TestAccountRoutesDocumented(t *testing.T) {
	ts := newTestServer(t)
	routes, doc := routerOps(t, ts.router), documentOps(t, ts.OpenAPI())
	if !slices.Equal(routes, doc) {
		t.Errorf("router and document differ:\n%v\n%v", routes, doc)
	}
	for _, r := range accountRouteRules() {
		if !slices.Contains(doc, r.Method+" "+r.Path) {
			t.Errorf("%s %s not documented", r.Method, r.Path)
		}
	}
	if _, err := loadContract(ts.Server); err != nil {
		t.Fatalf("document invalid: %v", err)
	}
	var parsed struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
			Summary  string `json:"summary"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(ts.OpenAPI(), &parsed); err != nil {
		t.Fatal(err)
	}
	if sec := parsed.Paths["/api/v1/auth/login"]["post"].Security; sec == nil || len(*sec) != 0 {
		t.Errorf("login security = %v, want [] (public)", sec)
	}
	if me := parsed.Paths["/api/v1/users/me"]["get"]; me.Security != nil || me.Summary == "" {
		t.Errorf("/users/me = %+v, want a summary and the global security", me)
	}
}
