package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func TestModeratorLimits(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	root := e.user("root", auth.RoleAdmin)
	e.user("mod", auth.RoleModerator)
	mp := e.principal(e.login("mod").AccessToken)
	alicePair := e.login("alice")
	off := false

	if _, err := e.svc.UpdateUser(ctx, mp, alice.ID, auth.UserUpdate{IsActive: &off, Reason: "spam"}, meta); err != nil {
		t.Fatalf("moderator deactivating a user: %v", err)
	}
	e.wantUnauth(alicePair.AccessToken)
	if ev := e.lastEvent(audit.UserDeactivated); ev.Username != "mod" || ev.TargetID != idStr(alice.ID) || ev.Details["reason"] != "spam" {
		t.Errorf("user_deactivated = %+v", ev)
	}
	_, err := e.svc.UpdateUser(ctx, mp, root.ID, auth.UserUpdate{IsActive: &off}, meta)
	wantErr(t, err, auth.ErrForbidden)
	role := auth.RoleUser
	_, err = e.svc.UpdateUser(ctx, mp, alice.ID, auth.UserUpdate{Role: &role}, meta)
	wantErr(t, err, auth.ErrForbidden)
	adminRole := auth.RoleAdmin
	_, err = e.svc.UpdateUser(ctx, mp, mp.UserID, auth.UserUpdate{Role: &adminRole}, meta)
	wantErr(t, err, auth.ErrForbidden)
	quota := new(int64)
	_, err = e.svc.UpdateUser(ctx, mp, alice.ID, auth.UserUpdate{StorageQuotaMB: &quota}, meta)
	wantErr(t, err, auth.ErrForbidden)
	wantErr(t, e.svc.ResetPassword(ctx, mp, alice.ID, pwNew, meta), auth.ErrForbidden)
	_, err = e.svc.CreateUser(ctx, mp, auth.NewUser{Username: "zed", Email: "zed@example.com", Password: pwAlice}, meta)
	wantErr(t, err, auth.ErrForbidden)

	for _, r := range []auth.Role{auth.RoleAdmin, auth.RoleModerator} {
		_, err := e.svc.CreateCodes(ctx, mp, auth.CodeRequest{RoleToGrant: r}, meta)
		wantErr(t, err, auth.ErrForbidden)
	}
	codes, err := e.svc.CreateCodes(ctx, mp, auth.CodeRequest{Count: 2}, meta)
	if err != nil || len(codes) != 2 || codes[0].RoleToGrant != auth.RoleUser || codes[0].CreatedBy != mp.UserID {
		t.Fatalf("moderator user codes = %+v, %v", codes, err)
	}
	if list, err := e.svc.ListCodes(ctx, mp, false); err != nil || len(list) != 2 {
		t.Errorf("ListCodes = %d, %v", len(list), err)
	}
	adminCodes, _ := e.svc.CreateCodes(ctx, auth.SystemPrincipal(), auth.CodeRequest{RoleToGrant: auth.RoleAdmin}, meta)
	wantErr(t, e.svc.RevokeCode(ctx, mp, adminCodes[0].ID, meta), auth.ErrForbidden)
	if err := e.svc.RevokeCode(ctx, mp, codes[0].ID, meta); err != nil {
		t.Fatal(err)
	}
	e.lastEvent(audit.RegistrationCodeRevoked)
	if list, _ := e.svc.ListCodes(ctx, mp, false); len(list) != 2 { // codes[1] + the admin code
		t.Errorf("active codes after revoke = %d, want 2", len(list))
	}

	_, err = e.svc.Sessions(ctx, mp, root.ID)
	wantErr(t, err, auth.ErrForbidden) // moderators never act on admins
	rootPair := e.login("root")
	wantErr(t, e.svc.RevokeSession(ctx, mp, root.ID, rootPair.SessionID, meta), auth.ErrForbidden)

	if _, _, err := e.svc.ListUsers(ctx, mp, auth.UserFilter{}); err != nil {
		t.Errorf("moderator ListUsers: %v", err)
	}
	_, err = e.svc.Stats(ctx, mp)
	wantErr(t, err, auth.ErrForbidden)
	wantErr(t, e.svc.SetRegistration(ctx, mp, auth.RegistrationSettings{}, meta), auth.ErrForbidden)
}

func TestUserCannotDoStaffThings(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	bob := e.user("bob", auth.RoleUser)
	ap := e.principal(e.login("alice").AccessToken)
	off := false
	_, err := e.svc.UpdateUser(ctx, ap, bob.ID, auth.UserUpdate{IsActive: &off}, meta)
	wantErr(t, err, auth.ErrForbidden)
	_, _, err = e.svc.ListUsers(ctx, ap, auth.UserFilter{})
	wantErr(t, err, auth.ErrForbidden)
	_, err = e.svc.User(ctx, ap, bob.ID)
	wantErr(t, err, auth.ErrForbidden)
	if u, err := e.svc.User(ctx, ap, alice.ID); err != nil || u.ID != alice.ID {
		t.Errorf("own User = %+v, %v", u, err)
	}
	_, err = e.svc.CreateCodes(ctx, ap, auth.CodeRequest{}, meta)
	wantErr(t, err, auth.ErrForbidden)
	role := auth.RoleAdmin
	_, err = e.svc.UpdateUser(ctx, ap, alice.ID, auth.UserUpdate{Role: &role}, meta)
	wantErr(t, err, auth.ErrForbidden)
}

func TestLastAdminProtection(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", auth.RoleAdmin)
	rp := e.principal(e.login("root").AccessToken)
	user, off := auth.RoleUser, false

	_, err := e.svc.UpdateUser(ctx, rp, root.ID, auth.UserUpdate{Role: &user}, meta)
	wantErr(t, err, auth.ErrConflict)
	_, err = e.svc.UpdateUser(ctx, auth.SystemPrincipal(), root.ID, auth.UserUpdate{IsActive: &off}, meta)
	wantErr(t, err, auth.ErrConflict)
	_, err = e.svc.UpdateUser(ctx, rp, root.ID, auth.UserUpdate{IsActive: &off}, meta)
	wantErr(t, err, auth.ErrInvalid) // nobody deactivates themselves

	second := e.user("second", auth.RoleAdmin)
	if _, err := e.svc.UpdateUser(ctx, rp, second.ID, auth.UserUpdate{Role: &user}, meta); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	_, err = e.svc.UpdateUser(ctx, rp, root.ID, auth.UserUpdate{Role: &user}, meta)
	wantErr(t, err, auth.ErrConflict)
	if p := e.principal(e.login("second").AccessToken); p.Role != auth.RoleUser {
		t.Errorf("demoted admin role = %s", p.Role)
	}
	_, err = e.svc.UpdateUser(ctx, rp, root.ID, auth.UserUpdate{}, meta)
	wantErr(t, err, auth.ErrInvalid)
	bogus := auth.Role("root")
	_, err = e.svc.UpdateUser(ctx, rp, second.ID, auth.UserUpdate{Role: &bogus}, meta)
	wantErr(t, err, auth.ErrInvalid)
}

func TestAdminUserOperations(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", auth.RoleAdmin)
	rp := e.principal(e.login("root").AccessToken)
	q := int64(100)
	u, err := e.svc.CreateUser(ctx, rp, auth.NewUser{Username: "Worker", Email: "w@example.com", Password: pwAlice,
		Role: auth.RoleService, IsVerified: true, StorageQuotaMB: &q}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != auth.RoleService || u.CreatedBy == nil || *u.CreatedBy != root.ID || *u.StorageQuotaMB != 100 || u.PasswordHash != "" {
		t.Errorf("created = %+v", u)
	}
	if ev := e.lastEvent(audit.UserCreated); ev.UserID != root.ID || ev.TargetID != idStr(u.ID) {
		t.Errorf("user_created = %+v", ev)
	}
	_, err = e.svc.CreateUser(ctx, rp, auth.NewUser{Username: "worker", Email: "w2@example.com", Password: pwAlice}, meta)
	wantErr(t, err, auth.ErrConflict)
	_, err = e.svc.CreateUser(ctx, rp, auth.NewUser{Username: "weak", Email: "weak@example.com", Password: "short"}, meta)
	wantErr(t, err, auth.ErrInvalid)

	newQ := int64(200)
	pq := &newQ
	mail, verified := "worker@example.org", false
	got, err := e.svc.UpdateUser(ctx, rp, u.ID, auth.UserUpdate{Email: &mail, IsVerified: &verified, StorageQuotaMB: &pq}, meta)
	if err != nil || got.Email != mail || got.IsVerified || *got.StorageQuotaMB != 200 {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if ev := e.lastEvent(audit.QuotaChanged); ev.Details["old_storage_quota_mb"] != int64(100) || ev.Details["new_storage_quota_mb"] != int64(200) {
		t.Errorf("quota_changed = %v", ev.Details)
	}
	e.lastEvent(audit.UserUpdated)
	var unlimited *int64
	if got, err := e.svc.UpdateUser(ctx, rp, u.ID, auth.UserUpdate{StorageQuotaMB: &unlimited}, meta); err != nil || got.StorageQuotaMB != nil {
		t.Errorf("unlimited quota: %+v, %v", got, err)
	}

	users, total, err := e.svc.ListUsers(ctx, rp, auth.UserFilter{Search: "WORK", Limit: 1000})
	if err != nil || total != 1 || len(users) != 1 || users[0].PasswordHash != "" {
		t.Errorf("ListUsers = %+v, %d, %v", users, total, err)
	}
	_, _, err = e.svc.ListUsers(ctx, rp, auth.UserFilter{Role: "root"})
	wantErr(t, err, auth.ErrInvalid)
	_, err = e.svc.User(ctx, rp, 999)
	wantErr(t, err, auth.ErrNotFound)

	pair, _ := e.svc.Login(ctx, "worker", pwAlice, meta)
	if err := e.svc.ResetPassword(ctx, rp, u.ID, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(pair.AccessToken)
	if ev := e.lastEvent(audit.PasswordReset); ev.Details["sessions_revoked"] != 1 {
		t.Errorf("password_reset = %+v", ev)
	}
	wantErr(t, e.svc.ResetPassword(ctx, rp, u.ID, "weak", meta), auth.ErrInvalid)
}

func TestCodeRequestValidation(t *testing.T) {
	e := newEnv(t, nil)
	sys := auth.SystemPrincipal()
	for name, r := range map[string]auth.CodeRequest{
		"too many":     {Count: 101},
		"negative":     {MaxUses: -1},
		"bad role":     {RoleToGrant: "root"},
		"bad domain":   {AllowedEmailDomain: "not a domain"},
		"neg expiry":   {Expiry: -1},
		"domain at at": {AllowedEmailDomain: "a@b.example"},
	} {
		if _, err := e.svc.CreateCodes(ctx, sys, r, meta); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	codes, err := e.svc.CreateCodes(ctx, sys, auth.CodeRequest{Count: 3}, meta)
	if err != nil || len(codes) != 3 {
		t.Fatal(err)
	}
	c := codes[0]
	if c.MaxUses != 1 || !c.ExpiresAt.Equal(e.clock.Now().Add(auth.DefaultCodeExpiry)) || !c.IsActive || c.RoleToGrant != auth.RoleUser {
		t.Errorf("defaults = %+v", c)
	}
	ev := e.lastEvent(audit.RegistrationCodeCreated)
	for _, v := range ev.Details {
		if s, ok := v.(string); ok && s == codes[2].Code {
			t.Error("the audit event must not carry the code")
		}
	}
	wantErr(t, e.svc.RevokeCode(ctx, sys, 999, meta), auth.ErrNotFound)
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t, nil)
	created, generated, err := e.svc.Bootstrap(ctx, "admin", "admin@example.com", "")
	if err != nil || !created || len(generated) < 20 {
		t.Fatalf("Bootstrap = %v, %q, %v", created, generated, err)
	}
	pair, err := e.svc.Login(ctx, "admin", generated, meta)
	if err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	if pair.User.Role != auth.RoleAdmin || !pair.User.MustChangePassword {
		t.Errorf("bootstrap admin = %+v", pair.User)
	}
	if ev := e.sink.Find(audit.UserCreated); len(ev) != 1 || ev[0].Details["bootstrap"] != true {
		t.Errorf("user_created events = %+v", ev)
	}
	created, generated, err = e.svc.Bootstrap(ctx, "other", "other@example.com", "")
	if err != nil || created || generated != "" {
		t.Errorf("second Bootstrap = %v, %q, %v; want a no-op", created, generated, err)
	}

	e2 := newEnv(t, nil)
	_, _, err = e2.svc.Bootstrap(ctx, "admin", "admin@example.com", "password")
	wantErr(t, err, auth.ErrInvalid)
	created, generated, err = e2.svc.Bootstrap(ctx, "admin", "admin@example.com", pwAdmin)
	if err != nil || !created || generated != "" {
		t.Fatalf("Bootstrap with a password = %v, %q, %v", created, generated, err)
	}
	if p, err := e2.svc.Login(ctx, "admin", pwAdmin, meta); err != nil || p.User.MustChangePassword {
		t.Errorf("login = %+v, %v", p, err)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", auth.RoleAdmin)
	e.user("mod", auth.RoleModerator)
	alice := e.user("alice", auth.RoleUser)
	off := false
	_, _ = e.svc.UpdateUser(ctx, auth.SystemPrincipal(), alice.ID, auth.UserUpdate{IsActive: &off}, meta)
	rp := e.principal(e.login("root").AccessToken)
	e.login("mod")
	_, _ = e.svc.CreateCodes(ctx, rp, auth.CodeRequest{Count: 2}, meta)
	st, err := e.svc.Stats(ctx, rp)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Stats{TotalUsers: 3, ActiveUsers: 2, Admins: 1, Moderators: 1, LiveSessions: 2, ActiveCodes: 2}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

// TestAuditEventsCarryRequestMeta runs most account actions and checks that every event
// they write names its action, its outcome and the request's client address and agent.
func TestAuditEventsCarryRequestMeta(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", auth.RoleAdmin)
	alice := e.user("alice", auth.RoleUser)
	rp := e.principal(e.login("root").AccessToken)
	pair := e.login("alice")
	_, _ = e.svc.Login(ctx, "alice", "Wrong-Password9x", meta)
	_, _ = e.svc.Login(ctx, "ghost", "Wrong-Password9x", meta)
	_, _ = e.svc.Refresh(ctx, pair.RefreshToken, meta)
	e.clock.Advance(time.Minute)
	_, _ = e.svc.Refresh(ctx, pair.RefreshToken, meta) // reuse
	k, _, _ := e.svc.CreateAPIKey(ctx, rp, "k", nil, 0, meta)
	_, _, _ = e.svc.RotateAPIKey(ctx, rp, k.ID, meta)
	_ = e.svc.RevokeAPIKey(ctx, rp, k.ID, meta)
	codes, _ := e.svc.CreateCodes(ctx, rp, auth.CodeRequest{}, meta)
	_ = e.svc.RevokeCode(ctx, rp, codes[0].ID, meta)
	_ = e.svc.SetRegistration(ctx, rp, auth.RegistrationSettings{EnableRegistration: true}, meta)
	_, _ = e.svc.Register(ctx, reg("newbie", pwAlice, ""), meta)
	ap2 := e.principal(e.login("alice").AccessToken)
	_ = e.svc.ChangePassword(ctx, ap2, pwAlice, pwNew, meta)
	_ = e.svc.ResetPassword(ctx, rp, alice.ID, pwNew2, meta)
	_ = e.svc.Unlock(ctx, rp, alice.ID, meta)
	mod, off := auth.RoleModerator, false
	_, _ = e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{Role: &mod}, meta)
	_, _ = e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{IsActive: &off}, meta)
	_ = e.svc.Logout(ctx, rp, true, meta)

	want := []string{
		audit.UserCreated, audit.LoginSuccess, audit.LoginFailed, audit.TokenRefresh,
		audit.TokenReuseDetected, audit.APIKeyCreated, audit.APIKeyRotated, audit.APIKeyRevoked,
		audit.RegistrationCodeCreated, audit.RegistrationCodeRevoked, audit.ConfigChanged,
		audit.UserRegistered, audit.PasswordChanged, audit.PasswordReset, audit.AccountUnlocked,
		audit.RoleChanged, audit.UserDeactivated, audit.LogoutAll,
	}
	for _, a := range want {
		if len(e.sink.Find(a)) == 0 {
			t.Errorf("no %s event", a)
		}
	}
	for _, ev := range e.sink.Events() {
		if ev.IP != meta.IP || ev.UserAgent != meta.UserAgent || ev.RequestID != meta.RequestID || ev.Time.IsZero() {
			t.Errorf("%s event lacks request metadata: %+v", ev.Action, ev)
		}
		if _, ok := audit.Lookup(ev.Action); !ok {
			t.Errorf("%s is not a catalogued action", ev.Action)
		}
	}
	if ev := e.sink.Find(audit.LoginFailed); ev[len(ev)-1].UserID != 0 || ev[len(ev)-1].Username != "ghost" {
		t.Errorf("unknown-user login_failed = %+v", ev[len(ev)-1])
	}
}
