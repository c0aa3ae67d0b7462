package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func reg(name, password, code string) auth.RegisterRequest {
	return auth.RegisterRequest{Username: name, Email: name + "@example.com", Password: password, Code: code}
}

func TestRegisterModes(t *testing.T) {
	quota := int64(5120)
	e := newEnv(t, func(o *auth.Options) {
		o.EnableRegistration, o.RequireRegistrationCode, o.DefaultQuotaMB = false, true, &quota
	})
	// Closed.
	_, err := e.svc.Register(ctx, reg("alice", pwAlice, ""), meta)
	wantErr(t, err, auth.ErrInvalid)
	if !strings.Contains(err.Error(), "disabled") {
		t.Errorf("closed: %v", err)
	}
	admin := auth.SystemPrincipal()

	// Open (runtime toggle).
	if err := e.svc.SetRegistration(ctx, admin, auth.RegistrationSettings{EnableRegistration: true}, meta); err != nil {
		t.Fatal(err)
	}
	if rs, _ := e.svc.Registration(ctx); !rs.EnableRegistration || rs.RequireRegistrationCode {
		t.Fatalf("settings = %+v", rs)
	}
	e.lastEvent(audit.ConfigChanged)
	u, err := e.svc.Register(ctx, reg("alice", pwAlice, ""), meta)
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != auth.RoleUser || !u.IsActive || u.IsVerified || u.StorageQuotaMB == nil || *u.StorageQuotaMB != quota || u.PasswordHash != "" {
		t.Errorf("open registration user = %+v", u)
	}
	if ev := e.lastEvent(audit.UserRegistered); ev.UserID != u.ID {
		t.Errorf("user_registered = %+v", ev)
	}
	if h, _ := e.st.Users.PasswordHistory(ctx, u.ID, 5); len(h) != 1 {
		t.Errorf("registration should start the password history, have %d", len(h))
	}
	_, err = e.svc.Register(ctx, reg("ALICE", pwAlice, ""), meta)
	wantErr(t, err, auth.ErrConflict)
	_, err = e.svc.Register(ctx, reg("bob", "weak", ""), meta)
	var pe *auth.PolicyError
	if !errors.As(err, &pe) || len(pe.Problems) < 3 {
		t.Errorf("weak password: %v, want a PolicyError listing every problem", err)
	}

	// Invite-only.
	if err := e.svc.SetRegistration(ctx, admin, auth.RegistrationSettings{EnableRegistration: true, RequireRegistrationCode: true}, meta); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Register(ctx, reg("carol", pwAlice, ""), meta)
	wantErr(t, err, auth.ErrInvalid)
	_, err = e.svc.Register(ctx, reg("carol", pwAlice, "NOSUCHCODE00000000000000"), meta)
	wantErr(t, err, auth.ErrInvalid)
	codes, err := e.svc.CreateCodes(ctx, admin, auth.CodeRequest{RoleToGrant: auth.RoleModerator, MaxUses: 1}, meta)
	if err != nil || len(codes) != 1 || len(codes[0].Code) != auth.RegistrationCodeLen {
		t.Fatalf("codes = %+v, %v", codes, err)
	}
	c, err := e.svc.Register(ctx, reg("carol", pwAlice, strings.ToLower(codes[0].Code)), meta)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != auth.RoleModerator || !c.IsVerified || c.StorageQuotaMB == nil || *c.StorageQuotaMB != quota {
		t.Errorf("invited user = %+v", c)
	}
	if ev := e.lastEvent(audit.RegistrationCodeRedeemed); ev.TargetID != idStr(codes[0].ID) {
		t.Errorf("registration_code_redeemed = %+v", ev)
	}
	// Used up.
	_, err = e.svc.Register(ctx, reg("dave", pwAlice, codes[0].Code), meta)
	wantErr(t, err, auth.ErrInvalid)

	// Domain restriction and expiry.
	dom, _ := e.svc.CreateCodes(ctx, admin, auth.CodeRequest{AllowedEmailDomain: "@Corp.Example", MaxUses: 5, Expiry: time.Hour}, meta)
	_, err = e.svc.Register(ctx, reg("erin", pwAlice, dom[0].Code), meta) // erin@example.com
	wantErr(t, err, auth.ErrInvalid)
	r := reg("erin", pwAlice, dom[0].Code)
	r.Email = "erin@corp.example"
	if u, err := e.svc.Register(ctx, r, meta); err != nil || u.Role != auth.RoleUser {
		t.Fatalf("register in the allowed domain: %+v, %v", u, err)
	}
	e.clock.Advance(time.Hour)
	r = reg("frank", pwAlice, dom[0].Code)
	r.Email = "frank@corp.example"
	_, err = e.svc.Register(ctx, r, meta)
	wantErr(t, err, auth.ErrInvalid)
}

func TestRegisterCodeRaceSingleUse(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.RequireRegistrationCode = true })
	codes, err := e.svc.CreateCodes(ctx, auth.SystemPrincipal(), auth.CodeRequest{}, meta)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := e.svc.Register(ctx, reg("racer"+string(rune('a'+i)), pwAlice, codes[0].Code), meta)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations with a single-use code, want 1", ok)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	a, b := e.login("alice"), e.login("alice")
	ap := e.principal(a.AccessToken)

	wantErr(t, e.svc.ChangePassword(ctx, ap, "Wrong-Password9x", pwNew, meta), auth.ErrUnauthenticated)
	err := e.svc.ChangePassword(ctx, ap, pwAlice, "alice", meta)
	var pe *auth.PolicyError
	if !errors.As(err, &pe) || len(pe.Problems) < 4 || !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("weak: %v, want every problem at once", err)
	}
	err = e.svc.ChangePassword(ctx, ap, pwAlice, pwAlice, meta)
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "last 5 passwords") {
		t.Fatalf("same as current: %v", err)
	}

	if err := e.svc.ChangePassword(ctx, ap, pwAlice, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	e.principal(a.AccessToken) // the current session stays
	e.wantUnauth(b.AccessToken)
	if _, err := e.svc.Refresh(ctx, b.RefreshToken, meta); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Error("other sessions' refresh tokens must die with a password change")
	}
	if ev := e.lastEvent(audit.PasswordChanged); ev.UserID != u.ID || ev.Details["sessions_revoked"] != 1 {
		t.Errorf("password_changed = %+v", ev)
	}
	_, err = e.svc.Login(ctx, "alice", pwAlice, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if _, err := e.svc.Login(ctx, "alice", pwNew, meta); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}

	// History: a recent password is refused, alongside policy problems.
	if err := e.svc.ChangePassword(ctx, ap, pwNew, pwNew2, meta); err != nil {
		t.Fatal(err)
	}
	err = e.svc.ChangePassword(ctx, ap, pwNew2, pwAlice, meta)
	if !errors.As(err, &pe) || len(pe.Problems) != 1 || !strings.Contains(pe.Problems[0], "last 5") {
		t.Fatalf("reusing an old password: %v", err)
	}
}

// TestChangePasswordWrongCurrentCounts: a wrong current password is audited and counts
// toward the lockout like a failed login; a locked-out client cannot keep guessing.
func TestChangePasswordWrongCurrentCounts(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	ap := e.principal(e.login("alice").AccessToken)
	for i := range 5 {
		err := e.svc.ChangePassword(ctx, ap, "Wrong-Password9x", pwNew, meta)
		if i < 4 {
			wantErr(t, err, auth.ErrUnauthenticated)
		} else {
			wantErr(t, err, auth.ErrLocked)
		}
	}
	ev := e.lastEvent(audit.PasswordChanged)
	if ev.Success || ev.UserID != u.ID || ev.Details["reason"] != "invalid_current_password" {
		t.Errorf("password_changed after a wrong password = %+v", ev)
	}
	if n := len(e.sink.Find(audit.PasswordChanged)); n != 5 {
		t.Errorf("%d password_changed events, want 5", n)
	}
	wantErr(t, e.svc.ChangePassword(ctx, ap, pwAlice, pwNew, meta), auth.ErrLocked)
	_, err := e.svc.Login(ctx, "alice", pwAlice, meta)
	wantErr(t, err, auth.ErrLocked) // the same client is locked out of logins too
}

// TestMustChangePasswordPrincipal: after an admin reset the user's next principal carries
// MustChangePassword at once (the cached user state is dropped), until the change.
func TestMustChangePasswordPrincipal(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	e.user("root", auth.RoleAdmin)
	if p := e.principal(e.login("alice").AccessToken); p.MustChangePassword {
		t.Fatal("flag set before any reset")
	}
	rp := e.principal(e.login("root").AccessToken)
	if err := e.svc.ResetPassword(ctx, rp, u.ID, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	pair, err := e.svc.Login(ctx, "alice", pwNew, meta)
	if err != nil {
		t.Fatal(err)
	}
	p := e.principal(pair.AccessToken)
	if !p.MustChangePassword {
		t.Fatal("principal after an admin reset lacks MustChangePassword")
	}
	if err := e.svc.ChangePassword(ctx, p, pwNew, pwNew2, meta); err != nil {
		t.Fatal(err)
	}
	if e.principal(pair.AccessToken).MustChangePassword {
		t.Error("MustChangePassword still set after the change")
	}
}

func TestPasswordHistoryWindow(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.Policy = auth.Policy{HistoryCount: 2} })
	e.user("alice", auth.RoleUser)
	ap := e.principal(e.login("alice").AccessToken)
	if err := e.svc.ChangePassword(ctx, ap, pwAlice, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChangePassword(ctx, ap, pwNew, pwNew2, meta); err != nil {
		t.Fatal(err)
	}
	// pwAlice is now 3 back: outside a history of 2.
	if err := e.svc.ChangePassword(ctx, ap, pwNew2, pwAlice, meta); err != nil {
		t.Fatalf("a password older than the history is allowed: %v", err)
	}
	wantErr(t, e.svc.ChangePassword(ctx, ap, pwAlice, pwNew2, meta), auth.ErrInvalid)
}

func TestMeAndUpdateMe(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	e.user("bob", auth.RoleUser)
	ap := e.principal(e.login("alice").AccessToken)
	me, err := e.svc.Me(ctx, ap)
	if err != nil || me.ID != u.ID || me.PasswordHash != "" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	mail := "Alice.New@Example.com"
	// The current password is required, and a wrong one is refused, audited and counted.
	_, err = e.svc.UpdateMe(ctx, ap, &mail, "", meta)
	wantErr(t, err, auth.ErrCurrentPasswordRequired)
	_, err = e.svc.UpdateMe(ctx, ap, &mail, "Wrong-Password9x", meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if ev := e.lastEvent(audit.UserUpdated); ev.Success || ev.Details["reason"] != "invalid_current_password" {
		t.Errorf("user_updated after a wrong password = %+v", ev)
	}
	if got, _ := e.svc.Me(ctx, ap); got.Email != u.Email {
		t.Fatalf("email changed without the password: %q", got.Email)
	}
	me, err = e.svc.UpdateMe(ctx, ap, &mail, pwAlice, meta)
	if err != nil || me.Email != mail || me.Role != auth.RoleUser {
		t.Fatalf("UpdateMe = %+v, %v", me, err)
	}
	if ev := e.lastEvent(audit.UserUpdated); !ev.Success {
		t.Errorf("user_updated = %+v", ev)
	}
	taken := "BOB@example.com"
	_, err = e.svc.UpdateMe(ctx, ap, &taken, pwAlice, meta)
	wantErr(t, err, auth.ErrConflict)
	bad := "not an email"
	_, err = e.svc.UpdateMe(ctx, ap, &bad, pwAlice, meta)
	wantErr(t, err, auth.ErrInvalid)
	_, err = e.svc.Me(ctx, nil)
	wantErr(t, err, auth.ErrUnauthenticated)
}
