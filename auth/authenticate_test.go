package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func TestAuthenticateNothingValid(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	for name, c := range map[string][2]string{
		"nothing":         {"", ""},
		"garbage bearer":  {"not-a-token", ""},
		"garbage key":     {"", "tldw_nothex000000.abc"},
		"forged jwt":      {"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", ""},
		"oversize bearer": {strings.Repeat("a.", 10000), ""},
		"empty key id":    {"", "tldw_.x"},
	} {
		if _, err := e.svc.Authenticate(ctx, c[0], c[1], meta); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestRoleChangeAndDeactivationMidSession(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	pair := e.login("alice")
	if p := e.principal(pair.AccessToken); p.Role != auth.RoleUser {
		t.Fatalf("role = %s", p.Role)
	}
	mod := auth.RoleModerator
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{Role: &mod, Reason: "promotion"}, meta); err != nil {
		t.Fatal(err)
	}
	// The JWT still says "user"; the principal follows the user record at once.
	if p := e.principal(pair.AccessToken); p.Role != auth.RoleModerator || !p.Can(auth.PermUsersRead) {
		t.Fatalf("role after change = %s, want moderator on the very next request", p.Role)
	}
	ev := e.lastEvent(audit.RoleChanged)
	if ev.Details["old_role"] != "user" || ev.Details["new_role"] != "moderator" || ev.Details["reason"] != "promotion" {
		t.Errorf("role_changed details = %v", ev.Details)
	}
	off := false
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &off}, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(pair.AccessToken)
	if ev := e.lastEvent(audit.UserDeactivated); ev.Details["sessions_revoked"] != 1 {
		t.Errorf("user_deactivated details = %v", ev.Details)
	}
	on := true
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &on}, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(pair.AccessToken) // reactivation does not revive revoked sessions
	e.lastEvent(audit.UserActivated)
}

func TestCacheTTLAndInvalidationHooks(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.SessionCacheTTL = time.Minute })
	e.user("alice", auth.RoleUser)
	pair := e.login("alice")
	e.principal(pair.AccessToken) // cached now
	// Another replica revokes directly in the shared store: this replica's cache still
	// says live until the TTL or an invalidation.
	if err := e.st.Sessions.RevokeSession(ctx, pair.SessionID, "elsewhere", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.principal(pair.AccessToken)
	e.svc.InvalidateSession(pair.SessionID)
	e.wantUnauth(pair.AccessToken)

	other := e.login("alice")
	e.principal(other.AccessToken)
	u, _ := e.st.Users.UserByID(ctx, other.User.ID)
	if _, err := e.st.Users.UpdateUser(ctx, u.ID, auth.UserPatch{Role: ptr(auth.RoleModerator)}); err != nil {
		t.Fatal(err)
	}
	if p := e.principal(other.AccessToken); p.Role != auth.RoleUser {
		t.Fatal("expected the cached role before invalidation")
	}
	e.svc.InvalidateUser(u.ID)
	if p := e.principal(other.AccessToken); p.Role != auth.RoleModerator {
		t.Fatalf("role after InvalidateUser = %s", p.Role)
	}
	_, _ = e.st.Users.UpdateUser(ctx, u.ID, auth.UserPatch{Role: ptr(auth.RoleUser)})
	e.clock.Advance(time.Minute)
	if p := e.principal(other.AccessToken); p.Role != auth.RoleUser {
		t.Fatalf("role after the cache TTL = %s", p.Role)
	}
}

func TestSessionActivityTouchThrottled(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	pair := e.login("alice")
	created := e.clock.Now()
	e.clock.Advance(30 * time.Second)
	e.principal(pair.AccessToken)
	if s, _ := e.st.Sessions.SessionByID(ctx, pair.SessionID); !s.LastActivity.Equal(created) {
		t.Errorf("LastActivity touched after 30s: %v", s.LastActivity)
	}
	e.clock.Advance(31 * time.Second)
	e.principal(pair.AccessToken)
	if s, _ := e.st.Sessions.SessionByID(ctx, pair.SessionID); !s.LastActivity.Equal(e.clock.Now()) {
		t.Errorf("LastActivity = %v, want %v", s.LastActivity, e.clock.Now())
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	bob := e.user("bob", auth.RoleUser)
	alice := e.principal(e.login("alice").AccessToken)

	k, full, err := e.svc.CreateAPIKey(ctx, alice, "laptop", nil, 0, meta)
	if err != nil {
		t.Fatal(err)
	}
	if k.Hash != "" || k.KeyID == "" || !strings.HasPrefix(full, k.Prefix) || len(k.Scopes) != 1 || k.Scopes[0] != auth.ScopeRead {
		t.Errorf("key = %+v", k)
	}
	if k.ExpiresAt == nil || !k.ExpiresAt.Equal(e.clock.Now().Add(365*24*time.Hour)) {
		t.Errorf("default expiry = %v", k.ExpiresAt)
	}
	ev := e.lastEvent(audit.APIKeyCreated)
	if strings.Contains(strings.Join(detailStrings(ev), " "), full[len(k.Prefix):]) {
		t.Error("the audit event must not carry the secret")
	}

	for name, hdr := range map[string][2]string{"X-API-KEY": {"", full}, "Bearer": {full, ""}} {
		p, err := e.svc.Authenticate(ctx, hdr[0], hdr[1], meta)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Via != "api_key" || p.APIKeyID != k.ID || p.UserID != alice.UserID || p.SessionID != 0 {
			t.Errorf("%s principal = %+v", name, p)
		}
		if !p.Can(auth.PermMediaRead) || p.Can(auth.PermMediaWrite) || p.Can(auth.PermAccountWrite) {
			t.Errorf("%s: a read key must read and not write", name)
		}
	}
	stored, _ := e.st.APIKeys.APIKeyByKeyID(ctx, k.KeyID)
	if stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v", stored.LastUsedAt)
	}
	if stored.Hash == "" || strings.Contains(stored.Hash, full[len(k.Prefix)+1:]) {
		t.Error("only a hash of the secret is stored")
	}

	// A wrong secret for a real key id, and a well-formed key that does not exist.
	id, _, _ := auth.ParseAPIKey(full)
	_, otherSecret, _, _ := auth.NewAPIKey()
	wrong := auth.APIKeyPrefix + id + "." + otherSecret
	_, err = e.svc.Authenticate(ctx, "", wrong, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	_, _, ghost, _ := auth.NewAPIKey()
	_, err = e.svc.Authenticate(ctx, "", ghost, meta)
	wantErr(t, err, auth.ErrUnauthenticated)

	list, err := e.svc.ListAPIKeys(ctx, alice)
	if err != nil || len(list) != 1 || list[0].Hash != "" {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// Another user cannot touch alice's key.
	bobP := e.principal(e.login("bob").AccessToken)
	wantErr(t, e.svc.RevokeAPIKey(ctx, bobP, k.ID, meta), auth.ErrNotFound)
	_, _, err = e.svc.RotateAPIKey(ctx, bobP, k.ID, meta)
	wantErr(t, err, auth.ErrNotFound)
	if l, _ := e.svc.ListAPIKeys(ctx, bobP); len(l) != 0 || bob.ID == alice.UserID {
		t.Errorf("bob sees %d keys", len(l))
	}

	rk, rfull, err := e.svc.RotateAPIKey(ctx, alice, k.ID, meta)
	if err != nil {
		t.Fatal(err)
	}
	if rk.ID != k.ID || rk.KeyID == k.KeyID || rfull == full {
		t.Errorf("rotated = %+v", rk)
	}
	_, err = e.svc.Authenticate(ctx, "", full, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if _, err := e.svc.Authenticate(ctx, "", rfull, meta); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	e.lastEvent(audit.APIKeyRotated)

	if err := e.svc.RevokeAPIKey(ctx, alice, k.ID, meta); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(ctx, "", rfull, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	e.lastEvent(audit.APIKeyRevoked)
	_, _, err = e.svc.RotateAPIKey(ctx, alice, k.ID, meta)
	wantErr(t, err, auth.ErrNotFound)
}

func detailStrings(ev audit.Event) []string {
	var out []string
	for k, v := range ev.Details {
		if s, ok := v.(string); ok {
			out = append(out, k+"="+s)
		}
	}
	return out
}

func TestAPIKeyExpiryAndInactiveOwner(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	alice := e.principal(e.login("alice").AccessToken)
	_, full, err := e.svc.CreateAPIKey(ctx, alice, "short", []auth.Scope{auth.ScopeWrite}, time.Hour, meta)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, "", full, meta)
	if err != nil || !p.Can(auth.PermMediaWrite) {
		t.Fatalf("write key: %+v, %v", p, err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.svc.Authenticate(ctx, "", full, meta)
	wantErr(t, err, auth.ErrExpired)

	_, full2, err := e.svc.CreateAPIKey(ctx, alice, "other", nil, 0, meta)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &off}, meta); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(ctx, "", full2, meta)
	wantErr(t, err, auth.ErrUnauthenticated)

	_, _, err = e.svc.CreateAPIKey(ctx, alice, "bad", []auth.Scope{"root"}, 0, meta)
	wantErr(t, err, auth.ErrInvalid)
	_, _, err = e.svc.CreateAPIKey(ctx, alice, "bad", nil, -time.Hour, meta)
	wantErr(t, err, auth.ErrInvalid)
}

func TestAPIKeyScopesWithinCreator(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	e.user("root", auth.RoleAdmin)
	alice := e.principal(e.login("alice").AccessToken)
	admin := e.principal(e.login("root").AccessToken)

	_, _, err := e.svc.CreateAPIKey(ctx, alice, "", []auth.Scope{auth.ScopeAdmin}, 0, meta)
	wantErr(t, err, auth.ErrForbidden)
	_, adminKey, err := e.svc.CreateAPIKey(ctx, admin, "", []auth.Scope{auth.ScopeAdmin}, 0, meta)
	if err != nil {
		t.Fatalf("admin scope for an admin: %v", err)
	}
	if p, _ := e.svc.Authenticate(ctx, "", adminKey, meta); p == nil || !p.Can(auth.PermUsersWrite) {
		t.Error("an admin-scoped admin key should reach admin permissions")
	}

	_, readKey, _ := e.svc.CreateAPIKey(ctx, alice, "", []auth.Scope{auth.ScopeRead}, 0, meta)
	readP, _ := e.svc.Authenticate(ctx, "", readKey, meta)
	_, _, err = e.svc.CreateAPIKey(ctx, readP, "", []auth.Scope{auth.ScopeRead}, 0, meta)
	wantErr(t, err, auth.ErrForbidden) // a read key lacks account.write
	wantErr(t, e.svc.ChangePassword(ctx, readP, pwAlice, pwNew, meta), auth.ErrForbidden)

	_, writeKey, _ := e.svc.CreateAPIKey(ctx, alice, "", []auth.Scope{auth.ScopeWrite}, 0, meta)
	writeP, _ := e.svc.Authenticate(ctx, "", writeKey, meta)
	_, _, err = e.svc.CreateAPIKey(ctx, writeP, "", []auth.Scope{auth.ScopeRead}, 0, meta)
	wantErr(t, err, auth.ErrKeyCannotMint) // only admin-scoped keys mint keys
	_, _, err = e.svc.CreateAPIKey(ctx, writeP, "", []auth.Scope{auth.ScopeAdmin}, 0, meta)
	wantErr(t, err, auth.ErrForbidden)
	adminP, _ := e.svc.Authenticate(ctx, "", adminKey, meta)
	if _, _, err := e.svc.CreateAPIKey(ctx, adminP, "", []auth.Scope{auth.ScopeRead}, 0, meta); err != nil {
		t.Errorf("an admin-scoped key may mint a key: %v", err)
	}

	// A write key of an admin cannot mint (or rotate) an admin key either.
	_, adminWrite, _ := e.svc.CreateAPIKey(ctx, admin, "", []auth.Scope{auth.ScopeWrite}, 0, meta)
	adminWriteP, _ := e.svc.Authenticate(ctx, "", adminWrite, meta)
	_, _, err = e.svc.CreateAPIKey(ctx, adminWriteP, "", []auth.Scope{auth.ScopeAdmin}, 0, meta)
	wantErr(t, err, auth.ErrForbidden)
	keys, _ := e.svc.ListAPIKeys(ctx, admin)
	_, _, err = e.svc.RotateAPIKey(ctx, adminWriteP, keys[0].ID, meta)
	wantErr(t, err, auth.ErrForbidden)
	if adminWriteP.Can(auth.PermUsersRead) {
		t.Error("a write key of an admin must not reach staff permissions")
	}
}

func TestJWTWinsOverStaleAPIKey(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	e.user("bob", auth.RoleUser)
	pair := e.login("alice")
	alice := e.principal(pair.AccessToken)
	bob := e.principal(e.login("bob").AccessToken)
	k, stale, _ := e.svc.CreateAPIKey(ctx, bob, "", nil, 0, meta)
	_ = e.svc.RevokeAPIKey(ctx, bob, k.ID, meta)

	p, err := e.svc.Authenticate(ctx, pair.AccessToken, stale, meta)
	if err != nil || p.UserID != alice.UserID || p.Via != "jwt" {
		t.Fatalf("valid JWT + stale key: %+v, %v", p, err)
	}
	_, bobKey, _ := e.svc.CreateAPIKey(ctx, bob, "", nil, 0, meta)
	p, err = e.svc.Authenticate(ctx, pair.AccessToken, bobKey, meta)
	if err != nil || p.UserID != alice.UserID {
		t.Fatalf("valid JWT + other valid key: the JWT wins; got %+v, %v", p, err)
	}
	// A rejected bearer falls back to a valid X-API-KEY; both bad keeps the bearer's error.
	p, err = e.svc.Authenticate(ctx, "garbage", bobKey, meta)
	if err != nil || p.UserID != bob.UserID || p.Via != "api_key" {
		t.Fatalf("bad bearer + valid key: %+v, %v", p, err)
	}
	_, err = e.svc.Authenticate(ctx, "garbage.x.y", stale, meta)
	wantErr(t, err, auth.ErrUnauthenticated)
}

func TestRevokedSessionTokensFail(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	a, b, c := e.login("alice"), e.login("alice"), e.login("alice")
	ap := e.principal(a.AccessToken)
	if err := e.svc.RevokeSession(ctx, ap, u.ID, b.SessionID, meta); err != nil {
		t.Fatal(err)
	}
	e.wantUnauth(b.AccessToken)
	if ev := e.lastEvent(audit.SessionRevoked); ev.TargetID != idStr(b.SessionID) {
		t.Errorf("session_revoked = %+v", ev)
	}
	n, err := e.svc.RevokeAllSessions(ctx, ap, u.ID, true, meta)
	if err != nil || n != 1 {
		t.Fatalf("revoke-all keeping current = %d, %v; want 1", n, err)
	}
	e.wantUnauth(c.AccessToken)
	e.principal(a.AccessToken)
	e.lastEvent(audit.SessionRevokedAll)
	// A session id that does not belong to the caller is not found.
	e.user("bob", auth.RoleUser)
	bobPair := e.login("bob")
	wantErr(t, e.svc.RevokeSession(ctx, ap, u.ID, bobPair.SessionID, meta), auth.ErrNotFound)
	e.principal(bobPair.AccessToken)
	// A session revoked directly in the store (a cleanup job, another replica) fails too.
	d := e.login("alice")
	e.svc.InvalidateSession(d.SessionID)
	_ = e.st.Sessions.RevokeSession(ctx, d.SessionID, "gone", e.clock.Now())
	e.wantUnauth(d.AccessToken)
}

func TestSessionsListing(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", auth.RoleUser)
	bob := e.user("bob", auth.RoleUser)
	admin := e.user("root", auth.RoleAdmin)
	e.user("mod", auth.RoleModerator)
	ap := e.principal(e.login("alice").AccessToken)
	e.login("alice")
	list, err := e.svc.Sessions(ctx, ap, alice.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("own sessions = %d, %v", len(list), err)
	}
	for _, s := range list {
		if s.TokenHash != "" || s.RefreshHash != "" || s.PrevRefreshHash != "" {
			t.Errorf("session listing carries token material: %+v", s)
		}
	}
	_, err = e.svc.Sessions(ctx, ap, bob.ID)
	wantErr(t, err, auth.ErrForbidden)
	mp := e.principal(e.login("mod").AccessToken)
	if _, err := e.svc.Sessions(ctx, mp, alice.ID); err != nil {
		t.Errorf("moderator listing a user's sessions: %v", err)
	}
	adminPair := e.login("root")
	_, err = e.svc.RevokeAllSessions(ctx, mp, admin.ID, false, meta)
	wantErr(t, err, auth.ErrForbidden)
	e.principal(adminPair.AccessToken)
	if n, err := e.svc.RevokeAllSessions(ctx, mp, alice.ID, false, meta); err != nil || n != 2 {
		t.Errorf("moderator revoke-all of a user = %d, %v", n, err)
	}
}

func TestSingleUserMode(t *testing.T) {
	const key = "single-user-key-0123456789"
	e := newEnv(t, func(o *auth.Options) { o.SingleUser, o.SingleUserAPIKey = true, key })
	for name, c := range map[string][2]string{"X-API-KEY": {"", key}, "Bearer": {key, ""}} {
		p, err := e.svc.Authenticate(ctx, c[0], c[1], meta)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := auth.Principal{UserID: 1, Username: "single_user", Role: auth.RoleAdmin, Via: "single_user"}
		if p.UserID != want.UserID || p.Username != want.Username || p.Role != want.Role || p.Via != want.Via || p.Scopes != nil {
			t.Errorf("%s principal = %+v", name, p)
		}
	}
	for name, c := range map[string][2]string{
		"wrong":  {"", key + "x"},
		"prefix": {"", key[:16]},
		"empty":  {"", ""},
	} {
		if _, err := e.svc.Authenticate(ctx, c[0], c[1], meta); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		}
	}
	pair, err := e.svc.Login(ctx, "anyone", key, meta)
	if err != nil {
		t.Fatal(err)
	}
	if pair.AccessToken != key || pair.RefreshToken != key || pair.TokenType != "bearer" {
		t.Errorf("single-user login pair = %+v", pair)
	}
	_, err = e.svc.Login(ctx, "anyone", "nope", meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if p, err := e.svc.Refresh(ctx, key, meta); err != nil || p.RefreshToken != key {
		t.Errorf("single-user refresh = %+v, %v", p, err)
	}
	_, err = e.svc.Refresh(ctx, "nope", meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	_, err = e.svc.Register(ctx, auth.RegisterRequest{Username: "x1x", Email: "x@example.com", Password: pwAlice}, meta)
	wantErr(t, err, auth.ErrForbidden)
	p, _ := e.svc.Authenticate(ctx, "", key, meta)
	if me, err := e.svc.Me(ctx, p); err != nil || me.ID != 1 || me.Role != auth.RoleAdmin {
		t.Errorf("Me = %+v, %v", me, err)
	}
}

func TestMayAccessPath(t *testing.T) {
	e := newEnv(t, nil)
	user := &auth.Principal{UserID: 7, Role: auth.RoleUser, Via: "jwt"}
	admin := &auth.Principal{UserID: 1, Role: auth.RoleAdmin, Via: "jwt"}
	keyless := &auth.Principal{UserID: 7, Role: auth.RoleUser, Scopes: []auth.Scope{}, Via: "api_key"}
	for _, c := range []struct {
		p    *auth.Principal
		uri  string
		want error
	}{
		{user, "/media/7/video.mp4", nil},
		{user, "/media/7/sub/dir/x.mp3?download=1", nil},
		{user, "/media/8/video.mp4", auth.ErrForbidden},
		{user, "/media/7/../8/video.mp4", auth.ErrForbidden},
		{user, "/media/7/%2e%2e/8/video.mp4", auth.ErrForbidden},
		{user, "//media//8//x", auth.ErrForbidden},
		{user, "/MEDIA/8/x", auth.ErrForbidden},
		{user, "/media/07/x", auth.ErrForbidden},
		{user, "/media", auth.ErrForbidden},
		{user, "/media/%zz/x", auth.ErrForbidden},
		{user, "/media/7/a%0d%0aX-Evil:1", auth.ErrForbidden},
		{user, "/media/7/" + strings.Repeat("a", 17<<10), auth.ErrForbidden},
		{user, "relative/path", auth.ErrForbidden},
		{user, "/api/v1/media/7", nil},
		{user, "/other/thing", nil},
		{admin, "/media/8/video.mp4", nil},
		{keyless, "/media/7/video.mp4", auth.ErrForbidden},
		{nil, "/media/7/video.mp4", auth.ErrUnauthenticated},
	} {
		err := e.svc.MayAccessPath(c.p, c.uri)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("MayAccessPath(%v, %.60q) = %v, want %v", c.p, c.uri, err, c.want)
		}
	}
}

func BenchmarkAuthenticateJWT(b *testing.B) {
	e := newEnv(b, nil)
	e.user("alice", auth.RoleUser)
	pair := e.login("alice")
	e.principal(pair.AccessToken) // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Authenticate(ctx, pair.AccessToken, "", meta); err != nil {
			b.Fatal(err)
		}
	}
}
