package auth_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// notifications records Options.Notify calls.
type notifications struct {
	mu    sync.Mutex
	calls []notification
}

type notification struct {
	sessions []int64
	user     int64
}

func (n *notifications) notify(ids []int64, user int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, notification{ids, user})
}

// take returns and forgets the calls so far.
func (n *notifications) take() []notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.calls
	n.calls = nil
	return c
}

// hasSession reports whether some call names session id.
func hasSession(cs []notification, id int64) bool {
	for _, c := range cs {
		if slices.Contains(c.sessions, id) {
			return true
		}
	}
	return false
}

// hasUser reports whether some call names user id.
func hasUser(cs []notification, id int64) bool {
	for _, c := range cs {
		if c.user == id {
			return true
		}
	}
	return false
}

func TestNotifyOnEveryOwnInvalidation(t *testing.T) {
	var n notifications
	e := newEnv(t, func(o *auth.Options) { o.Notify = n.notify })
	u := e.user("alice", auth.RoleUser)
	n.take()

	// Logout of one session.
	a := e.login("alice")
	if err := e.svc.Logout(ctx, e.principal(a.AccessToken), false, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); len(got) != 1 || !slices.Equal(got[0].sessions, []int64{a.SessionID}) || got[0].user != 0 {
		t.Errorf("logout notified %+v, want session %d only", got, a.SessionID)
	}

	// Revoking one session, then all others.
	b, c, d := e.login("alice"), e.login("alice"), e.login("alice")
	pb := e.principal(b.AccessToken)
	if err := e.svc.RevokeSession(ctx, pb, u.ID, c.SessionID, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasSession(got, c.SessionID) {
		t.Errorf("revoke session notified %+v, want session %d", got, c.SessionID)
	}
	if _, err := e.svc.RevokeAllSessions(ctx, pb, u.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasSession(got, d.SessionID) || hasSession(got, b.SessionID) {
		t.Errorf("revoke-all notified %+v, want session %d and not the kept %d", got, d.SessionID, b.SessionID)
	}

	// Password change revokes the other sessions.
	f := e.login("alice")
	if err := e.svc.ChangePassword(ctx, pb, pwAlice, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasSession(got, f.SessionID) {
		t.Errorf("password change notified %+v, want session %d", got, f.SessionID)
	}

	// Admin reset, role change, deactivation.
	if err := e.svc.ResetPassword(ctx, auth.SystemPrincipal(), u.ID, pwNew2, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasSession(got, b.SessionID) {
		t.Errorf("password reset notified %+v, want session %d", got, b.SessionID)
	}
	mod := auth.RoleModerator
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{Role: &mod}, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasUser(got, u.ID) {
		t.Errorf("role change notified %+v, want user %d", got, u.ID)
	}
	off := false
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &off}, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasUser(got, u.ID) {
		t.Errorf("deactivation notified %+v, want user %d", got, u.ID)
	}

	// Logout everywhere.
	e.user("bob", auth.RoleUser)
	g := e.login("bob")
	pg := e.principal(g.AccessToken)
	n.take()
	if err := e.svc.Logout(ctx, pg, true, meta); err != nil {
		t.Fatal(err)
	}
	if got := n.take(); !hasUser(got, pg.UserID) {
		t.Errorf("logout all notified %+v, want user %d", got, pg.UserID)
	}

	// Invalidations applied on behalf of another replica are not echoed.
	e.svc.InvalidateSession(g.SessionID)
	e.svc.InvalidateUser(pg.UserID)
	e.svc.InvalidateAll()
	e.svc.SetCacheTrusted(false)
	e.svc.SetCacheTrusted(true)
	if got := n.take(); len(got) != 0 {
		t.Errorf("remote invalidations notified %+v, want nothing", got)
	}
}

func TestInvalidateAll(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.SessionCacheTTL = time.Hour })
	e.user("alice", auth.RoleUser)
	a := e.login("alice")
	b := e.login("alice")
	e.principal(a.AccessToken)
	e.principal(b.AccessToken)
	// Another replica revokes a in the shared store and changes the role; the message is lost.
	if err := e.st.Sessions.RevokeSession(ctx, a.SessionID, "elsewhere", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	u, _ := e.st.Users.UserByID(ctx, a.User.ID)
	if _, err := e.st.Users.UpdateUser(ctx, u.ID, auth.UserPatch{Role: ptr(auth.RoleModerator)}); err != nil {
		t.Fatal(err)
	}
	e.principal(a.AccessToken) // still cached
	e.svc.InvalidateAll()
	e.wantUnauth(a.AccessToken)
	if p := e.principal(b.AccessToken); p.Role != auth.RoleModerator {
		t.Errorf("role after InvalidateAll = %s, want moderator", p.Role)
	}
}

func TestSetCacheTrusted(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.SessionCacheTTL = time.Hour })
	e.user("alice", auth.RoleUser)
	a, b, c := e.login("alice"), e.login("alice"), e.login("alice")
	e.principal(a.AccessToken) // cached while trusted

	e.svc.SetCacheTrusted(false)
	// Revocations elsewhere apply on the very next request, cached before or not.
	for _, s := range []*auth.TokenPair{a, b} {
		e.principal(s.AccessToken)
		if err := e.st.Sessions.RevokeSession(ctx, s.SessionID, "elsewhere", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.wantUnauth(s.AccessToken)
	}

	// Trusted again: the cache works as before (an unannounced revocation goes unseen
	// until an invalidation or the TTL).
	e.svc.SetCacheTrusted(true)
	e.principal(c.AccessToken)
	if err := e.st.Sessions.RevokeSession(ctx, c.SessionID, "elsewhere", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.principal(c.AccessToken)
	e.svc.InvalidateSession(c.SessionID)
	e.wantUnauth(c.AccessToken)
}
