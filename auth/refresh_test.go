package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	first := e.login("alice")

	second, err := e.svc.Refresh(ctx, first.RefreshToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh must rotate both tokens")
	}
	if second.SessionID != first.SessionID || second.ExpiresIn != 1800 {
		t.Errorf("second = %+v", second)
	}
	e.principal(second.AccessToken)
	if e.lastEvent(audit.TokenRefresh).TargetID != idStr(first.SessionID) {
		t.Error("token_refresh should target the session")
	}
	sess, _ := e.st.Sessions.SessionByID(ctx, first.SessionID)
	if sess.RefreshHash != auth.HashToken(second.RefreshToken) || sess.PrevRefreshHash != auth.HashToken(first.RefreshToken) {
		t.Error("the store must hold only hashes of the current and previous refresh token")
	}

	// Inside the grace window the previous token gets the same successor back.
	e.clock.Advance(5 * time.Second)
	again, err := e.svc.Refresh(ctx, first.RefreshToken, meta)
	if err != nil {
		t.Fatalf("grace replay: %v", err)
	}
	if again.RefreshToken != second.RefreshToken {
		t.Fatal("grace replay must return the identical successor refresh token")
	}
	e.principal(again.AccessToken)

	// Outside it, the old token is reuse: the whole session dies.
	e.clock.Advance(6 * time.Second)
	_, err = e.svc.Refresh(ctx, first.RefreshToken, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	ev := e.lastEvent(audit.TokenReuseDetected)
	if ev.Success || ev.TargetID != idStr(first.SessionID) || ev.UserID == 0 {
		t.Errorf("token_reuse_detected = %+v", ev)
	}
	e.wantUnauth(second.AccessToken)
	_, err = e.svc.Refresh(ctx, second.RefreshToken, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if s, _ := e.st.Sessions.SessionByID(ctx, first.SessionID); s.RevokedAt == nil || s.RevokeReason != auth.ReasonTokenReuse {
		t.Errorf("session after reuse = %+v", s)
	}
}

func TestRefreshConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	first := e.login("alice")
	const n = 20
	var wg sync.WaitGroup
	results := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.svc.Refresh(ctx, first.RefreshToken, meta)
			if err != nil {
				errs <- err
				return
			}
			results <- p.RefreshToken
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Errorf("concurrent refresh inside the grace window failed: %v", err)
	}
	distinct := map[string]bool{}
	for r := range results {
		distinct[r] = true
	}
	if len(distinct) != 1 {
		t.Fatalf("%d distinct successors, want exactly 1", len(distinct))
	}
	for r := range distinct {
		if r == first.RefreshToken {
			t.Fatal("the successor must differ from the presented token")
		}
		if _, err := e.svc.Refresh(ctx, r, meta); err != nil {
			t.Fatalf("the successor must work: %v", err)
		}
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.RotateRefresh = false })
	e.user("alice", auth.RoleUser)
	first := e.login("alice")
	for range 3 {
		e.clock.Advance(time.Minute)
		p, err := e.svc.Refresh(ctx, first.RefreshToken, meta)
		if err != nil {
			t.Fatal(err)
		}
		if p.RefreshToken != first.RefreshToken {
			t.Fatal("with rotation off the refresh token stays the same")
		}
		e.principal(p.AccessToken)
	}
}

func TestRefreshRejects(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	first := e.login("alice")
	for name, tok := range map[string]string{
		"empty":    "",
		"unknown":  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"oversize": string(make([]byte, 4096)),
		"access":   first.AccessToken,
	} {
		if _, err := e.svc.Refresh(ctx, tok, meta); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	if len(e.sink.Find(audit.TokenReuseDetected)) != 0 {
		t.Error("unknown tokens are not reuse")
	}
	// Expiry.
	e.clock.Advance(7*24*time.Hour + time.Second)
	_, err := e.svc.Refresh(ctx, first.RefreshToken, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	wantErr(t, err, auth.ErrExpired)
	// A deactivated user's refresh token is dead.
	second := e.login("alice")
	off := false
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &off}, meta); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(ctx, second.RefreshToken, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	a, b, c := e.login("alice"), e.login("alice"), e.login("alice")
	if err := e.svc.Logout(ctx, e.principal(a.AccessToken), false, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(a.AccessToken)
	if _, err := e.svc.Refresh(ctx, a.RefreshToken, meta); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Error("refresh after logout must fail")
	}
	e.principal(b.AccessToken) // other devices stay
	if ev := e.lastEvent(audit.Logout); ev.TargetID != idStr(a.SessionID) {
		t.Errorf("logout event = %+v", ev)
	}
	if err := e.svc.Logout(ctx, e.principal(b.AccessToken), true, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(b.AccessToken)
	e.wantUnauth(c.AccessToken)
	if ev := e.lastEvent(audit.LogoutAll); ev.Details["sessions_revoked"] != 2 {
		t.Errorf("logout_all details = %v", ev.Details)
	}
	wantErr(t, e.svc.Logout(ctx, nil, false, meta), auth.ErrUnauthenticated)
}

func TestSessionCap(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	var pairs []*auth.TokenPair
	for range 21 {
		pairs = append(pairs, e.login("alice"))
		e.clock.Advance(time.Second)
	}
	e.wantUnauth(pairs[0].AccessToken)
	for _, p := range pairs[1:] {
		e.principal(p.AccessToken)
	}
	live, _ := e.st.Sessions.ListSessions(ctx, pairs[0].User.ID, true, e.clock.Now())
	if len(live) != 20 {
		t.Errorf("%d live sessions, want 20", len(live))
	}
	if ev := e.lastEvent(audit.SessionRevoked); ev.Details["reason"] != auth.ReasonSessionLimit {
		t.Errorf("session_revoked = %+v", ev)
	}
}
