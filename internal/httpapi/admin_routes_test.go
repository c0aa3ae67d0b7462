package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

// adminScenario is one request against the admin API and what must come back. Paths and
// bodies may name accounts: {user}, {moderator}, {service} and {admin} become their ids.
type adminScenario struct {
	name         string
	caller       string
	method, path string
	body         string
	header       map[string]string
	status       int
	contains     []string // substrings of the body
	absent       []string // must not appear in the body
}

// expand replaces the account placeholders of s.
func (ts *testServer) expand(s string) string {
	return strings.NewReplacer("{user}", ts.id(callerUser), "{moderator}", ts.id(callerModerator),
		"{service}", ts.id(callerService), "{admin}", ts.id(callerAdmin)).Replace(s)
}

// run executes the scenarios in order against one server (they may build on each other).
func (ts *testServer) run(t *testing.T, scenarios []adminScenario) {
	t.Helper()
	for _, sc := range scenarios {
		rec := ts.call(t, sc.caller, sc.method, ts.expand(sc.path), ts.expand(sc.body), sc.header)
		body := rec.Body.String()
		if rec.Code != sc.status {
			t.Errorf("%s: %s %s as %s = %d, want %d\n%s", sc.name, sc.method, sc.path, sc.caller, rec.Code, sc.status, body)
			continue
		}
		for _, want := range sc.contains {
			if !strings.Contains(body, ts.expand(want)) {
				t.Errorf("%s: body lacks %q\n%s", sc.name, want, body)
			}
		}
		for _, bad := range sc.absent {
			if strings.Contains(body, bad) {
				t.Errorf("%s: body contains %q\n%s", sc.name, bad, body)
			}
		}
	}
}

func TestAdminUsersScenarios(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []adminScenario{
		{name: "list users", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users", status: 200,
			contains: []string{`"total":4`, `"page":1`, `"limit":20`, `"pages":1`, `"username":"alice"`,
				`"storage_quota_mb":`, `"created_at":"2026-03-04T05:06:07Z"`},
			absent: []string{"password_hash", "hash", "$argon2"}},
		{name: "list trailing slash", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/?limit=1&page=2", status: 200,
			contains: []string{`"total":4`, `"page":2`, `"limit":1`, `"pages":4`}},
		{name: "list filters", caller: callerModerator, method: "GET", path: "/api/v1/admin/users?role=moderator&is_active=true&search=MOL", status: 200,
			contains: []string{`"total":1`, `"username":"molly"`}, absent: []string{"alice"}},
		{name: "list bad limit", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?limit=101", status: 400, contains: []string{"limit"}},
		{name: "list bad page", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?page=0", status: 400, contains: []string{"page"}},
		{name: "list bad role", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?role=root", status: 400, contains: []string{"role"}},
		{name: "list bad is_active", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?is_active=perhaps", status: 400},
		{name: "get user", caller: callerModerator, method: "GET", path: "/api/v1/admin/users/{user}", status: 200,
			contains: []string{`"id":{user}`, `"email":"alice@example.com"`, `"role":"user"`, `"is_active":true`, `"last_login":"2026-03-04T05:06:07Z"`},
			absent:   []string{"password_hash", "$argon2"}},
		{name: "get missing user", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/999", status: 404},
		{name: "get huge id", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/99999999999999999999999", status: 404},
		{name: "get non-numeric id", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/abc", status: 404},

		{name: "create user", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body:   `{"username":"carol","email":"carol@example.com","password":"Brave-Otter-9471!","role":"user","storage_quota_mb":250}`,
			status: 201, contains: []string{`"username":"carol"`, `"is_verified":true`, `"storage_quota_mb":250`}, absent: []string{"password_hash", "Brave-Otter"}},
		{name: "create duplicate", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users/",
			body: `{"username":"CAROL","email":"other@example.com","password":"Brave-Otter-9471!"}`, status: 409, contains: []string{`"code":"conflict"`}},
		{name: "create weak password", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"dave","email":"dave@example.com","password":"short"}`, status: 400, contains: []string{`"errors":[`}},
		{name: "create missing fields", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"dave"}`, status: 422,
			contains: []string{`"loc":["body","email"]`, `"loc":["body","password"]`, `"type":"value_error.missing"`}},
		{name: "create wrong type", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"dave","email":"dave@example.com","password":"Brave-Otter-9471!","is_verified":"yes"}`, status: 422,
			contains: []string{`"loc":["body","is_verified"]`}},
		{name: "create bad role", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"dave","email":"dave@example.com","password":"Brave-Otter-9471!","role":"root"}`, status: 422,
			contains: []string{`"loc":["body","role"]`}},
		{name: "create inactive", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body:   `{"username":"erin","email":"erin@example.com","password":"Brave-Otter-9471!","is_active":false,"is_verified":false}`,
			status: 201, contains: []string{`"username":"erin"`, `"is_active":false`, `"is_verified":false`}},
		{name: "create malformed", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users", body: `{"username":`, status: 400},
		{name: "create array body", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users", body: `[1,2]`, status: 422},
		{name: "create text/plain", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"x"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415},

		{name: "update email and verified", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"email":"alice2@example.com","is_verified":false,"reason":"typo fix"}`, status: 200,
			contains: []string{`"message":"User updated successfully"`, `"email":"alice2@example.com"`, `"is_verified":false`}},
		{name: "update quota", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"storage_quota_mb":1024}`, status: 200, contains: []string{`"storage_quota_mb":1024`}},
		{name: "update quota unlimited", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"storage_quota_mb":null}`, status: 200, contains: []string{`"storage_quota_mb":null`}},
		{name: "update negative quota", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"storage_quota_mb":-1}`, status: 422, contains: []string{`"loc":["body","storage_quota_mb"]`}},
		{name: "update huge quota", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"storage_quota_mb":9223372036854775807,"is_verified":true}`, status: 422,
			contains: []string{`"code":"validation_error"`, `"loc":["body","storage_quota_mb"]`, `value_error.number.not_le`}},
		{name: "huge quota wrote nothing", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/{user}", status: 200,
			contains: []string{`"storage_quota_mb":null`, `"is_verified":false`}},
		{name: "create huge quota", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"dave","email":"dave@example.com","password":"Brave-Otter-9471!","storage_quota_mb":1099511627777}`, status: 422,
			contains: []string{`"loc":["body","storage_quota_mb"]`}},
		{name: "update no fields", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"reason":"nothing"}`, status: 400, contains: []string{"No fields to update"}},
		{name: "update empty body", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}", status: 400},
		{name: "update wrong type", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"is_active":"no"}`, status: 422, contains: []string{`"loc":["body","is_active"]`}},
		{name: "update bad role", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"role":"superuser"}`, status: 422, contains: []string{`"loc":["body","role"]`}},
		{name: "update lock true", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"is_locked":true}`, status: 422},
		{name: "update long reason", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"is_verified":true,"reason":"` + strings.Repeat("r", 501) + `"}`, status: 422},
		{name: "update missing user", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/999",
			body: `{"is_active":false}`, status: 404},
		{name: "bare role change", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{service}",
			body: `{"role":"user"}`, status: 200, contains: []string{`"role":"user"`}},
		{name: "bare deactivate", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{service}",
			body: `{"is_active": false}`, status: 200, contains: []string{`"is_active":false`}},
		{name: "reactivate", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{service}",
			body: `{"is_active": true}`, status: 200, contains: []string{`"is_active":true`}},
		{name: "unlock via is_locked", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"is_locked":false}`, status: 200, contains: []string{`"username":"alice"`}},
		{name: "last admin demotion", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{admin}",
			body: `{"role":"user"}`, status: 409, contains: []string{`"code":"conflict"`, "last active admin"}},
		{name: "delete self", caller: callerAdmin, method: "DELETE", path: "/api/v1/admin/users/{admin}", status: 400,
			contains: []string{"Cannot delete your own account"}},
		{name: "unlock", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users/{user}/unlock", status: 200,
			contains: []string{`"user_id":{user}`}},
		{name: "unlock missing", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users/999/unlock", status: 404},
		{name: "reset password missing field", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users/{user}/reset-password",
			body: `{}`, status: 422, contains: []string{`"loc":["body","new_password"]`}},
		{name: "reset password weak", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users/{user}/reset-password",
			body: `{"new_password":"password"}`, status: 400},
	})
	if evs := ts.Audit.Find(audit.UserUpdated); len(evs) == 0 || evs[0].Details["reason"] != "typo fix" {
		t.Errorf("user_updated events %+v: want the reason audited", evs)
	}
	if evs := ts.Audit.Find(audit.RoleChanged); len(evs) != 1 || evs[0].IP == "" || evs[0].RequestID == "" {
		t.Errorf("role_changed events %+v: want one with IP and request id", evs)
	}
	if n := len(ts.Audit.Find(audit.AccountUnlocked)); n != 2 {
		t.Errorf("account_unlocked events = %d, want 2", n)
	}
}

func TestAdminBodyCap(t *testing.T) {
	ts := newTestServer(t, withHTTP(func(o *Options) { o.MaxJSONBytes = 64 }))
	body := `{"email":"alice2@example.com","reason":"` + strings.Repeat("x", 100) + `"}`
	rec := ts.call(t, callerAdmin, "PUT", "/api/v1/admin/users/"+ts.id(callerUser), body, nil)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
	}
	if u, _ := ts.Stores.Users.UserByID(context.Background(), ts.Accounts[callerUser].User.ID); u.Email != "alice@example.com" {
		t.Errorf("email changed to %q by a refused request", u.Email)
	}
}

func TestAdminResetPasswordEndsSessions(t *testing.T) {
	ts := newTestServer(t)
	me := "/api/v1/admin/users/" + ts.id(callerUser) + "/sessions"
	rec := ts.call(t, callerAdmin, "POST", "/api/v1/admin/users/"+ts.id(callerUser)+"/reset-password",
		`{"new_password":"Fresh-Meadow-5287!"}`, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"force_password_change":true`) {
		t.Fatalf("reset: %d %s", rec.Code, rec.Body)
	}
	if rec := ts.call(t, callerUser, "GET", "/api/v1/admin/users", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("old token after reset: %d, want 401", rec.Code)
	}
	if rec := ts.call(t, callerAdmin, "GET", me, "", nil); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("sessions after reset: %d %s", rec.Code, rec.Body)
	}
	u, _ := ts.Stores.Users.UserByID(context.Background(), ts.Accounts[callerUser].User.ID)
	if !u.MustChangePassword {
		t.Error("reset password is not marked must-change")
	}
	if _, err := ts.Auth.Login(context.Background(), "alice", "Fresh-Meadow-5287!", auth.Meta{}); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
}

func TestAdminSessions(t *testing.T) {
	ts := newTestServer(t)
	user := ts.Accounts[callerUser]
	extra, err := ts.Auth.Login(context.Background(), "alice", testPassword, auth.Meta{IP: "198.51.100.7", UserAgent: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/admin/users/" + ts.id(callerUser) + "/sessions"

	rec := ts.call(t, callerModerator, "GET", base, "", nil)
	if rec.Code != 200 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("list = %s (%v), want 2 sessions", rec.Body, err)
	}
	for _, k := range []string{"id", "user_id", "ip_address", "user_agent", "created_at", "last_activity", "expires_at"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("session item lacks %q: %v", k, list[0])
		}
	}
	for _, bad := range []string{"hash", "token", user.Access, user.Refresh} {
		if strings.Contains(rec.Body.String(), bad) {
			t.Errorf("session listing carries %q", bad)
		}
	}

	// Revoke one session: its token stops working, the other keeps working.
	rec = ts.call(t, callerModerator, "DELETE", fmt.Sprintf("%s/%d", base, user.Session), "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Session revoked") {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := ts.call(t, callerUser, "GET", "/api/v1/admin/users", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked session's token: %d, want 401", rec.Code)
	}
	if _, err := ts.Auth.Authenticate(context.Background(), extra.AccessToken, "", auth.Meta{}); err != nil {
		t.Errorf("other session ended too: %v", err)
	}
	// Another user's session id under this user is not found.
	rec = ts.call(t, callerAdmin, "DELETE", fmt.Sprintf("%s/%d", base, ts.Accounts[callerModerator].Session), "", nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("foreign session: %d, want 404", rec.Code)
	}

	rec = ts.call(t, callerAdmin, "POST", base+"/revoke-all", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"sessions_revoked":1`) ||
		!strings.Contains(rec.Body.String(), "Successfully revoked 1 sessions") {
		t.Fatalf("revoke-all: %d %s", rec.Code, rec.Body)
	}
	if _, err := ts.Auth.Authenticate(context.Background(), extra.AccessToken, "", auth.Meta{}); err == nil {
		t.Error("revoke-all left a session usable")
	}
	if n := len(ts.Audit.Find(audit.SessionRevoked)) + len(ts.Audit.Find(audit.SessionRevokedAll)); n != 2 {
		t.Errorf("session audit events = %d, want 2", n)
	}
}

func TestModeratorLimits(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []adminScenario{
		{name: "list users", caller: callerModerator, method: "GET", path: "/api/v1/admin/users", status: 200},
		{name: "read admin", caller: callerModerator, method: "GET", path: "/api/v1/admin/users/{admin}", status: 200},
		{name: "deactivate admin", caller: callerModerator, method: "DELETE", path: "/api/v1/admin/users/{admin}", status: 403},
		{name: "deactivate admin via PUT", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{admin}",
			body: `{"is_active":false}`, status: 403},
		{name: "change role", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"role":"moderator"}`, status: 403},
		{name: "change role with deactivation", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"is_active":false,"role":"user"}`, status: 403},
		{name: "change email", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"email":"x@example.com"}`, status: 403},
		{name: "create user", caller: callerModerator, method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"zed","email":"zed@example.com","password":"Brave-Otter-9471!"}`, status: 403},
		{name: "reset password", caller: callerModerator, method: "POST", path: "/api/v1/admin/users/{user}/reset-password",
			body: `{"new_password":"Fresh-Meadow-5287!"}`, status: 403},
		{name: "unlock admin", caller: callerModerator, method: "POST", path: "/api/v1/admin/users/{admin}/unlock", status: 403},
		{name: "admin sessions", caller: callerModerator, method: "GET", path: "/api/v1/admin/users/{admin}/sessions", status: 403},
		{name: "revoke admin sessions", caller: callerModerator, method: "POST", path: "/api/v1/admin/users/{admin}/sessions/revoke-all", status: 403},
		{name: "admin code", caller: callerModerator, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"role_to_grant":"admin"}`, status: 403},
		{name: "user code", caller: callerModerator, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"role_to_grant":"user","max_uses":2}`, status: 200, contains: []string{`"role_to_grant":"user"`, `"max_uses":2`}},
		{name: "settings", caller: callerModerator, method: "GET", path: "/api/v1/admin/registration-settings", status: 403},
		{name: "stats", caller: callerModerator, method: "GET", path: "/api/v1/admin/stats", status: 403},
		{name: "deactivate user", caller: callerModerator, method: "DELETE", path: "/api/v1/admin/users/{user}", status: 200,
			contains: []string{"deactivated"}},
	})
	if u, _ := ts.Stores.Users.UserByID(context.Background(), ts.Accounts[callerAdmin].User.ID); !u.IsActive || u.Role != auth.RoleAdmin {
		t.Errorf("admin changed by a moderator: %+v", u)
	}
	if u, _ := ts.Stores.Users.UserByID(context.Background(), ts.Accounts[callerUser].User.ID); u.IsActive {
		t.Error("moderator could not deactivate a user")
	}
	if rec := ts.call(t, callerUser, "GET", "/api/v1/admin/users", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("deactivated user's token: %d, want 401", rec.Code)
	}
	if evs := ts.Audit.Find(audit.UserDeactivated); len(evs) != 1 || evs[0].Username != "molly" {
		t.Errorf("user_deactivated events %+v", evs)
	}
}

// TestAdminRoutesRefuseNonStaff sends every admin and audit route as a user and as the
// service account (403) and anonymously (401).
func TestAdminRoutesRefuseNonStaff(t *testing.T) {
	ts := newTestServer(t, withHTTP(func(o *Options) { o.AuditLog = newMemLog() }))
	for _, rule := range append(adminRouteRules(), auditRouteRules()...) {
		path := strings.NewReplacer("{id}", ts.id(callerUser), "{sid}", "1").Replace(rule.Path)
		for kind, want := range map[string]int{callerUser: 403, callerService: 403, callerAnonymous: 401} {
			rec := ts.call(t, kind, rule.Method, path, "{}", nil)
			if rec.Code != want {
				t.Errorf("%s %s as %s = %d, want %d", rule.Method, path, kind, rec.Code, want)
			}
		}
	}
	if u, _ := ts.Stores.Users.UserByID(context.Background(), ts.Accounts[callerUser].User.ID); !u.IsActive {
		t.Error("a refused request changed the user")
	}
}

func TestRegistrationCodes(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []adminScenario{
		{name: "create defaults", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes", body: `{}`, status: 200,
			contains: []string{`"code":"`, `"max_uses":1`, `"times_used":0`, `"role_to_grant":"user"`, `"is_active":true`,
				`"expires_at":"2026-03-11T05:06:07Z"`, `"created_at":"2026-03-04T05:06:07Z"`}},
		{name: "create full (null extras ignored)", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes/",
			body: `{"max_uses":5,"expiry_days":30,"role_to_grant":"moderator","allowed_email_domain":"example.org",
				"metadata":null,"org_id":null,"org_role":null,"team_id":null}`, status: 200,
			contains: []string{`"max_uses":5`, `"role_to_grant":"moderator"`, `"allowed_email_domain":"example.org"`, `"expires_at":"2026-04-03T05:06:07Z"`}},
		{name: "create batch", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"count":3,"role_to_grant":"service"}`, status: 200, contains: []string{`"codes":[`}},
		{name: "max_uses too big", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"max_uses":101}`, status: 422, contains: []string{`"loc":["body","max_uses"]`}},
		{name: "expiry too long", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"expiry_days":0}`, status: 422, contains: []string{`"loc":["body","expiry_days"]`}},
		{name: "count too big", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"count":1000}`, status: 422},
		{name: "bad role", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"role_to_grant":"root"}`, status: 422, contains: []string{`"loc":["body","role_to_grant"]`}},
		{name: "wrong type", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"max_uses":"many"}`, status: 422},
		{name: "bad domain", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"allowed_email_domain":"not a domain"}`, status: 400},
		{name: "moderator code by moderator", caller: callerModerator, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"role_to_grant":"moderator"}`, status: 403},
	})
	rec := ts.call(t, callerModerator, "GET", "/api/v1/admin/registration-codes", "", nil)
	var list struct{ Codes []codeJSON }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Codes) != 5 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	// The moderator code is listed to the moderator masked: its text would let them register
	// a moderator (issue 9).
	var modCode, userCode codeJSON
	for _, c := range list.Codes {
		wantLen := 24
		if c.RoleToGrant == "moderator" {
			wantLen = len(auth.MaskedCode)
			if c.Code != auth.MaskedCode {
				t.Errorf("moderator sees the moderator code %q", c.Code)
			}
		}
		if len(c.Code) != wantLen || !c.IsValid {
			t.Errorf("code %+v", c)
		}
		switch c.RoleToGrant {
		case "moderator":
			modCode = c
		case "user":
			userCode = c
		}
	}
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/registration-codes", "", nil)
	var all struct{ Codes []codeJSON }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &all) != nil || len(all.Codes) != 5 {
		t.Fatalf("admin list: %d %s", rec.Code, rec.Body)
	}
	for _, c := range all.Codes {
		if len(c.Code) != 24 {
			t.Errorf("admin sees code %+v", c)
		}
		if c.ID == modCode.ID {
			modCode.Code = c.Code // the real text, for the checks below
		}
	}
	ts.run(t, []adminScenario{
		{name: "moderator revokes moderator code", caller: callerModerator, method: "DELETE",
			path: fmt.Sprintf("/api/v1/admin/registration-codes/%d", modCode.ID), status: 403},
		{name: "moderator revokes user code", caller: callerModerator, method: "DELETE",
			path: fmt.Sprintf("/api/v1/admin/registration-codes/%d", userCode.ID), status: 200},
		{name: "revoke missing", caller: callerAdmin, method: "DELETE", path: "/api/v1/admin/registration-codes/999", status: 404},
		{name: "list hides revoked", caller: callerAdmin, method: "GET", path: "/api/v1/admin/registration-codes", status: 200,
			absent: []string{userCode.Code}},
		{name: "list includes revoked", caller: callerAdmin, method: "GET", path: "/api/v1/admin/registration-codes?include_inactive=true", status: 200,
			contains: []string{userCode.Code, `"is_valid":false`}},
		{name: "list bad flag", caller: callerAdmin, method: "GET", path: "/api/v1/admin/registration-codes?include_inactive=2", status: 400},
	})
	// Expired codes are hidden by default.
	ts.Clock.Advance(8 * 24 * time.Hour)
	pair, err := ts.Auth.Login(context.Background(), "root", testPassword, auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/registration-codes", "",
		map[string]string{"Authorization": "Bearer " + pair.AccessToken})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), modCode.Code) || strings.Count(rec.Body.String(), `"code":"`) != 1 {
		t.Errorf("after 8 days only the 30-day code should be listed: %s", rec.Body)
	}
	if n := len(ts.Audit.Find(audit.RegistrationCodeCreated)); n != 5 {
		t.Errorf("registration_code_created events = %d, want 5", n)
	}
	for _, e := range ts.Audit.Events() {
		if b, _ := json.Marshal(e); strings.Contains(string(b), modCode.Code) {
			t.Errorf("audit event %s carries a code's text", e.Action)
		}
	}
}

func TestRegistrationSettingsAndStats(t *testing.T) {
	ts := newTestServer(t, withHTTP(func(o *Options) { o.AuthMode = "multi_user" }))
	ts.run(t, []adminScenario{
		{name: "get", caller: callerAdmin, method: "GET", path: "/api/v1/admin/registration-settings", status: 200,
			contains: []string{`"enable_registration":true`, `"require_registration_code":false`, `"mode":"open"`, `"auth_mode":"multi_user"`}},
		{name: "require codes", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-settings",
			body: `{"require_registration_code":true}`, status: 200,
			contains: []string{`"enable_registration":true`, `"require_registration_code":true`, `"mode":"invite_only"`}},
		{name: "close", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-settings",
			body: `{"enable_registration":false}`, status: 200, contains: []string{`"mode":"closed"`, `"self_registration_allowed":false`}},
		{name: "wrong type", caller: callerAdmin, method: "POST", path: "/api/v1/admin/registration-settings",
			body: `{"enable_registration":"yes"}`, status: 422},
		{name: "persisted", caller: callerAdmin, method: "GET", path: "/api/v1/admin/registration-settings", status: 200,
			contains: []string{`"enable_registration":false`, `"require_registration_code":true`}},
		{name: "stats", caller: callerAdmin, method: "GET", path: "/api/v1/admin/stats", status: 200,
			contains: []string{`"users":{"total":4,"active":4,"admins":1,"moderators":1}`, `"sessions":{"active":4}`, `"registration_codes":{"active":0}`}},
	})
	rs, err := ts.Auth.Registration(context.Background())
	if err != nil || rs.EnableRegistration || !rs.RequireRegistrationCode {
		t.Errorf("service settings %+v %v", rs, err)
	}
	if n := len(ts.Audit.Find(audit.ConfigChanged)); n != 2 {
		t.Errorf("config_changed events = %d, want 2", n)
	}
}

func TestAdminRoutesDocumented(t *testing.T) {
	ts := newTestServer(t)
	doc := documentOps(t, ts.OpenAPI())
	for _, rule := range append(adminRouteRules(), auditRouteRules()...) {
		if !slices.Contains(doc, rule.Method+" "+rule.Path) {
			t.Errorf("%s %s is not in the OpenAPI document", rule.Method, rule.Path)
		}
	}
}

// TestAdminDenialsAudited: a moderator's role change and its action on an admin are refused
// (403) and each refusal is audited as access_denied.
func TestAdminDenialsAudited(t *testing.T) {
	ts := newTestServer(t)
	ts.run(t, []adminScenario{
		{name: "moderator grants admin", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"role":"admin"}`, status: 403},
		{name: "moderator deactivates an admin", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{admin}",
			body: `{"is_active":false}`, status: 403},
		{name: "moderator creates an admin code", caller: callerModerator, method: "POST", path: "/api/v1/admin/registration-codes",
			body: `{"role_to_grant":"admin"}`, status: 403},
	})
	evs := ts.Audit.Find(audit.AccessDenied)
	if len(evs) != 3 {
		t.Fatalf("%d access_denied events, want 3: %+v", len(evs), evs)
	}
	for _, e := range evs {
		if e.Username != ts.Accounts[callerModerator].User.Username || e.Success {
			t.Errorf("access_denied = %+v", e)
		}
	}
	if evs[1].TargetID != ts.id(callerAdmin) {
		t.Errorf("denied deactivation names target %q, want the admin %s", evs[1].TargetID, ts.id(callerAdmin))
	}
}
