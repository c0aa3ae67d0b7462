package auth_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

// TestListCodesMasksUngrantable: a moderator sees admin and moderator codes masked, never
// their text; an admin sees every code.
func TestListCodesMasksUngrantable(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", auth.RoleAdmin)
	e.user("mod", auth.RoleModerator)
	rp := e.principal(e.login("root").AccessToken)
	mp := e.principal(e.login("mod").AccessToken)
	text := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.RoleAdmin, auth.RoleModerator, auth.RoleUser} {
		c, err := e.svc.CreateCodes(ctx, rp, auth.CodeRequest{RoleToGrant: r}, meta)
		if err != nil {
			t.Fatal(err)
		}
		text[r] = c[0].Code
	}
	for _, tt := range []struct {
		p      *auth.Principal
		masked map[auth.Role]bool
	}{
		{mp, map[auth.Role]bool{auth.RoleAdmin: true, auth.RoleModerator: true}},
		{rp, map[auth.Role]bool{}},
	} {
		list, err := e.svc.ListCodes(ctx, tt.p, true)
		if err != nil || len(list) != 3 {
			t.Fatalf("ListCodes as %s = %d codes, %v", tt.p.Role, len(list), err)
		}
		for _, c := range list {
			want := text[c.RoleToGrant]
			if tt.masked[c.RoleToGrant] {
				want = auth.MaskedCode
			}
			if c.Code != want {
				t.Errorf("%s lists the %s code as %q, want %q", tt.p.Role, c.RoleToGrant, c.Code, want)
			}
		}
	}
}

// TestServiceDenialsAudited: refusals the route could not foresee (the target's role, the
// role to grant) are audited as access_denied.
func TestServiceDenialsAudited(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	root := e.user("root", auth.RoleAdmin)
	e.user("mod", auth.RoleModerator)
	mp := e.principal(e.login("mod").AccessToken)
	off, admin := false, auth.RoleAdmin
	check := func(what string, err error, op string, target int64) {
		t.Helper()
		wantErr(t, err, auth.ErrForbidden)
		ev := e.lastEvent(audit.AccessDenied)
		if ev.Success || ev.UserID != mp.UserID || ev.Details["operation"] != op || target != 0 && ev.TargetID != idStr(target) {
			t.Errorf("%s: access_denied = %+v", what, ev)
		}
	}
	_, err := e.svc.UpdateUser(ctx, mp, root.ID, auth.UserUpdate{IsActive: &off}, meta)
	check("deactivate an admin", err, "update_user", root.ID)
	_, err = e.svc.UpdateUser(ctx, mp, alice.ID, auth.UserUpdate{Role: &admin}, meta)
	check("grant admin", err, "update_user", alice.ID)
	check("reset an admin's password", e.svc.ResetPassword(ctx, mp, root.ID, pwNew, meta), "reset_password", root.ID)
	_, err = e.svc.RevokeAllSessions(ctx, mp, root.ID, false, meta)
	check("revoke an admin's sessions", err, "revoke_sessions", root.ID)
	check("revoke an admin's session", e.svc.RevokeSession(ctx, mp, root.ID, 1, meta), "revoke_session", root.ID)
	_, err = e.svc.CreateCodes(ctx, mp, auth.CodeRequest{RoleToGrant: auth.RoleAdmin}, meta)
	check("create an admin code", err, "create_registration_code", 0)
	if n := len(e.sink.Find(audit.AccessDenied)); n != 6 {
		t.Errorf("%d access_denied events, want 6", n)
	}
}

// TestRecoveryRevokesAPIKeys: an admin's password reset and revoke-all, and the user's own
// password change (unless it opts out), revoke the user's API keys, audited with the count.
func TestRecoveryRevokesAPIKeys(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	e.user("root", auth.RoleAdmin)
	rp := e.principal(e.login("root").AccessToken)
	password := new(string)
	*password = pwAlice
	keys := func(n int) []string {
		t.Helper()
		ap := e.principal(e.loginWith("alice", *password).AccessToken)
		var out []string
		for range n {
			_, full, err := e.svc.CreateAPIKey(ctx, ap, "k", []auth.Scope{auth.ScopeWrite}, 0, meta)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, full)
		}
		return out
	}
	valid := func(key string) bool {
		_, err := e.svc.Authenticate(ctx, "", key, meta)
		return err == nil
	}
	revoked := func(what string, action string, want int, ks ...string) {
		t.Helper()
		for _, k := range ks {
			if valid(k) {
				t.Errorf("%s: an API key still authenticates", what)
			}
		}
		if ev := e.lastEvent(action); ev.Details["api_keys_revoked"] != want {
			t.Errorf("%s: %s details = %v, want api_keys_revoked %d", what, action, ev.Details, want)
		}
	}

	ks := keys(2)
	if err := e.svc.ResetPassword(ctx, rp, alice.ID, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	*password = pwNew
	revoked("password reset", audit.PasswordReset, 2, ks...)

	ks = keys(2)
	if _, err := e.svc.RevokeAllSessions(ctx, rp, alice.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	revoked("admin revoke-all", audit.SessionRevokedAll, 2, ks...)

	// The user's own change: other keys go, the key making the request stays.
	ks = keys(3)
	kp, err := e.svc.Authenticate(ctx, "", ks[0], meta)
	if err != nil {
		t.Fatal(err)
	}
	pw3, pw4 := pwNew+"-3rd", pwNew+"-4th"
	if err := e.svc.ChangePassword(ctx, kp, pwNew, pw3, meta); err != nil {
		t.Fatal(err)
	}
	*password = pw3
	revoked("password change", audit.PasswordChanged, 2, ks[1:]...)
	if !valid(ks[0]) {
		t.Error("the API key that changed the password was revoked")
	}

	ks = keys(1)
	ap := e.principal(e.loginWith("alice", *password).AccessToken)
	if err := e.svc.ChangePasswordWith(ctx, ap, pw3, pw4, auth.PasswordChangeOptions{KeepAPIKeys: true}, meta); err != nil {
		t.Fatal(err)
	}
	if !valid(ks[0]) {
		t.Error("KeepAPIKeys: the key was revoked")
	}
	if ev := e.lastEvent(audit.PasswordChanged); ev.Details["api_keys_revoked"] != 0 {
		t.Errorf("KeepAPIKeys: password_changed details = %v", ev.Details)
	}
}

// racingUsers runs race once, right after the first UserByID of user id: a change that
// lands between a service's read and its write.
type racingUsers struct {
	auth.UserStore
	id   int64
	done atomic.Bool
	race func()
}

func (r *racingUsers) UserByID(c context.Context, id int64) (*auth.User, error) {
	u, err := r.UserStore.UserByID(c, id)
	if id == r.id && r.race != nil && !r.done.Swap(true) {
		r.race()
	}
	return u, err
}

// TestChangePasswordKeepsConcurrentAdminChange: an admin deactivates and demotes a user
// while that user's password change is between its read and its write; the change of
// password must not bring either back.
func TestChangePasswordKeepsConcurrentAdminChange(t *testing.T) {
	var racer *racingUsers
	e := newEnv(t, func(o *auth.Options) {
		racer = &racingUsers{UserStore: o.Users}
		o.Users = racer
	})
	mod := e.user("molly", auth.RoleModerator)
	e.user("root", auth.RoleAdmin)
	mp := e.principal(e.login("molly").AccessToken)
	rp := e.principal(e.login("root").AccessToken)
	racer.id = mod.ID
	racer.race = func() {
		off, user := false, auth.RoleUser
		if _, err := e.svc.UpdateUser(ctx, rp, mod.ID, auth.UserUpdate{IsActive: &off, Role: &user}, meta); err != nil {
			t.Errorf("concurrent deactivation: %v", err)
		}
	}
	if err := e.svc.ChangePassword(ctx, mp, pwAlice, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	u, err := e.st.Users.UserByID(ctx, mod.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.IsActive || u.Role != auth.RoleUser {
		t.Errorf("after the password change the user is active=%v, role %s; want inactive user", u.IsActive, u.Role)
	}
}

// TestQuotaBounds: a storage quota outside 0..MaxStorageQuotaMB is ErrInvalid and writes
// nothing.
func TestQuotaBounds(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	sys := auth.SystemPrincipal()
	for _, q := range []int64{-1, auth.MaxStorageQuotaMB + 1, 1 << 62} {
		pq := &q
		_, err := e.svc.UpdateUser(ctx, sys, alice.ID, auth.UserUpdate{StorageQuotaMB: &pq}, meta)
		wantErr(t, err, auth.ErrInvalid)
		_, err = e.svc.CreateUser(ctx, sys, auth.NewUser{Username: "bob", Email: "bob@example.com", Password: pwAlice, StorageQuotaMB: pq}, meta)
		wantErr(t, err, auth.ErrInvalid)
	}
	if u, _ := e.st.Users.UserByID(ctx, alice.ID); u.StorageQuotaMB != nil {
		t.Errorf("quota written: %d", *u.StorageQuotaMB)
	}
	max := int64(auth.MaxStorageQuotaMB)
	pq := &max
	if _, err := e.svc.UpdateUser(ctx, sys, alice.ID, auth.UserUpdate{StorageQuotaMB: &pq}, meta); err != nil {
		t.Errorf("MaxStorageQuotaMB refused: %v", err)
	}
	if len(e.sink.Find(audit.QuotaChanged)) != 1 {
		t.Errorf("quota_changed events: %v", e.sink.Actions())
	}
}

// loginWith logs name in with password and returns the pair.
func (e *env) loginWith(name, password string) *auth.TokenPair {
	e.t.Helper()
	p, err := e.svc.Login(ctx, name, password, meta)
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	return p
}
