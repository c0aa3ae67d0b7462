package authtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func mustUser(t *testing.T, s *MemUsers, name, email string) *auth.User {
	t.Helper()
	u := &auth.User{Username: name, Email: email, Role: auth.RoleUser, IsActive: true}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMemUsersCanonicalUniqueness(t *testing.T) {
	m := NewMemory()
	u := mustUser(t, m.Users, "Alice", "Alice@Example.com")
	if u.ID == 0 || u.UUID == "" || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
		t.Errorf("CreateUser left fields unset: %+v", u)
	}
	for _, c := range []struct{ name, email string }{
		{"ＡＬＩＣＥ", "other@example.com"}, {"alice", "x@example.com"}, {"bob", "ALICE@example.COM"},
	} {
		if err := m.Users.CreateUser(ctx, &auth.User{Username: c.name, Email: c.email}); !errors.Is(err, auth.ErrConflict) {
			t.Errorf("%s/%s: %v, want ErrConflict", c.name, c.email, err)
		}
	}
	for _, login := range []string{"alice", "alice@example.com"} {
		if got, err := m.Users.UserByLogin(ctx, login); err != nil || got.ID != u.ID {
			t.Errorf("UserByLogin(%q) = %v, %v", login, got, err)
		}
	}
	if _, err := m.Users.UserByLogin(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown login: %v", err)
	}
	b := mustUser(t, m.Users, "bob", "bob@example.com")
	taken := "alice@EXAMPLE.com"
	if _, err := m.Users.UpdateUser(ctx, b.ID, auth.UserPatch{Email: &taken}); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("update to a taken email: %v", err)
	}
	// Returned users are copies.
	got, _ := m.Users.UserByID(ctx, u.ID)
	got.Role = auth.RoleAdmin
	if again, _ := m.Users.UserByID(ctx, u.ID); again.Role != auth.RoleUser {
		t.Error("mutating a returned user changed the store")
	}
	if n, _ := m.Users.CountActiveAdmins(ctx); n != 0 {
		t.Errorf("admins = %d", n)
	}
}

func TestMemUsersListAndHistory(t *testing.T) {
	m := NewMemory()
	for _, n := range []string{"ann", "bea", "cat", "dan"} {
		mustUser(t, m.Users, n, n+"@example.com")
	}
	page, total, err := m.Users.ListUsers(ctx, auth.UserFilter{Limit: 2, Offset: 1})
	if err != nil || total != 4 || len(page) != 2 || page[0].Username != "bea" {
		t.Errorf("page = %+v, %d, %v", page, total, err)
	}
	if _, total, _ := m.Users.ListUsers(ctx, auth.UserFilter{Search: "CA"}); total != 1 {
		t.Errorf("search total = %d", total)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		if err := m.Users.AddPasswordHistory(ctx, 1, h, 2); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := m.Users.PasswordHistory(ctx, 1, 5); len(h) != 2 || h[0] != "h3" || h[1] != "h2" {
		t.Errorf("history = %v, want [h3 h2]", h)
	}
	if err := m.Users.AddPasswordHistory(ctx, 99, "h", 2); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("history of unknown user: %v", err)
	}
}

func TestMemCodeRedemptionAtomic(t *testing.T) {
	m := NewMemory()
	c := &auth.RegistrationCode{Code: "CODE", MaxUses: 2, ExpiresAt: t0.Add(time.Hour), IsActive: true, RoleToGrant: auth.RoleUser}
	if err := m.Codes.CreateCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "user" + string(rune('a'+i))
			if _, err := m.Users.CreateUserWithCode(ctx, &auth.User{Username: name, Email: name + "@example.com"}, "CODE", t0); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, auth.ErrInvalid) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 2 {
		t.Fatalf("%d redemptions of a 2-use code", ok)
	}
	if n, _ := m.Users.CountUsers(ctx); n != 2 {
		t.Errorf("users = %d, want 2", n)
	}
	// A duplicate user does not consume a use.
	d := &auth.RegistrationCode{Code: "DUP", MaxUses: 1, ExpiresAt: t0.Add(time.Hour), IsActive: true}
	_ = m.Codes.CreateCode(ctx, d)
	taken := &auth.User{Username: "taken", Email: "taken@example.com"}
	if err := m.Users.CreateUser(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Users.CreateUserWithCode(ctx, &auth.User{Username: "taken", Email: "new@example.com"}, "DUP", t0); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if got, _ := m.Codes.CodeByID(ctx, d.ID); got.TimesUsed != 0 {
		t.Error("a failed insert must not consume the code")
	}
	for name, now := range map[string]time.Time{"expired": t0.Add(time.Hour)} {
		if _, err := m.Users.CreateUserWithCode(ctx, &auth.User{Username: "late", Email: "late@example.com"}, "DUP", now); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_ = m.Codes.RevokeCode(ctx, d.ID)
	if _, err := m.Users.CreateUserWithCode(ctx, &auth.User{Username: "late", Email: "late@example.com"}, "DUP", t0); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("revoked: %v", err)
	}
	if list, _ := m.Codes.ListCodes(ctx, false); len(list) != 1 || list[0].Code != "CODE" {
		t.Errorf("active codes = %+v", list)
	}
}

func TestMemSessionsRotateCAS(t *testing.T) {
	m := NewMemory()
	s := &auth.Session{UserID: 1, RefreshHash: "r0", CreatedAt: t0, RefreshExpiresAt: t0.Add(time.Hour)}
	if err := m.Sessions.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.Sessions.RotateRefresh(ctx, s.ID, "r0", "r1", "a1", t0, t0.Add(time.Hour), t0)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, auth.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d rotations won, want 1", wins)
	}
	for _, h := range []string{"r1", "r0"} {
		if got, err := m.Sessions.SessionByRefreshHash(ctx, h); err != nil || got.ID != s.ID {
			t.Errorf("SessionByRefreshHash(%s) = %v, %v", h, got, err)
		}
	}
	got, _ := m.Sessions.SessionByID(ctx, s.ID)
	if got.PrevRefreshHash != "r0" || got.RotatedAt == nil || got.TokenHash != "a1" {
		t.Errorf("after rotation: %+v", got)
	}
	_ = m.Sessions.RevokeSession(ctx, s.ID, "test", t0)
	if err := m.Sessions.RotateRefresh(ctx, s.ID, "r1", "r2", "a2", t0, t0, t0); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("rotating a revoked session: %v", err)
	}
	if err := m.Sessions.RotateRefresh(ctx, 99, "x", "y", "z", t0, t0, t0); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("missing session: %v", err)
	}
}

func TestMemSessionsRevokeAndList(t *testing.T) {
	m := NewMemory()
	var ids []int64
	for i := range 3 {
		s := &auth.Session{UserID: 1, CreatedAt: t0.Add(time.Duration(i) * time.Minute), RefreshExpiresAt: t0.Add(time.Hour)}
		_ = m.Sessions.CreateSession(ctx, s)
		ids = append(ids, s.ID)
	}
	_ = m.Sessions.CreateSession(ctx, &auth.Session{UserID: 2, CreatedAt: t0, RefreshExpiresAt: t0.Add(time.Hour)})
	list, _ := m.Sessions.ListSessions(ctx, 1, true, t0)
	if len(list) != 3 || list[0].ID != ids[2] {
		t.Fatalf("list = %+v, want newest first", list)
	}
	revoked, _ := m.Sessions.RevokeUserSessions(ctx, 1, ids[1], "x", t0)
	if len(revoked) != 2 || revoked[0] != ids[0] || revoked[1] != ids[2] {
		t.Errorf("revoked = %v", revoked)
	}
	if live, _ := m.Sessions.ListSessions(ctx, 1, true, t0); len(live) != 1 || live[0].ID != ids[1] {
		t.Errorf("live = %+v", live)
	}
	if all, _ := m.Sessions.ListSessions(ctx, 1, false, t0); len(all) != 3 {
		t.Errorf("all = %d", len(all))
	}
	if n, _ := m.Sessions.CountLiveSessions(ctx, t0); n != 2 {
		t.Errorf("live count = %d", n)
	}
	if n, _ := m.Sessions.CountLiveSessions(ctx, t0.Add(time.Hour)); n != 0 {
		t.Errorf("live count after expiry = %d", n)
	}
}

func TestMemAPIKeysIsolation(t *testing.T) {
	m := NewMemory()
	k := &auth.APIKey{KeyID: "aaaaaaaaaaaa", UserID: 1, Hash: "h", Scopes: []auth.Scope{auth.ScopeRead}}
	if err := m.APIKeys.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := m.APIKeys.CreateAPIKey(ctx, &auth.APIKey{KeyID: "aaaaaaaaaaaa", UserID: 2}); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("duplicate key id: %v", err)
	}
	if err := m.APIKeys.RevokeAPIKey(ctx, 2, k.ID, t0); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("another user's revoke: %v", err)
	}
	if err := m.APIKeys.ReplaceAPIKeySecret(ctx, 2, k.ID, "b", "p", "h2"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("another user's rotate: %v", err)
	}
	if l, _ := m.APIKeys.ListAPIKeys(ctx, 2); len(l) != 0 {
		t.Errorf("user 2 sees %d keys", len(l))
	}
	if err := m.APIKeys.ReplaceAPIKeySecret(ctx, 1, k.ID, "bbbbbbbbbbbb", "p", "h2"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.APIKeys.APIKeyByKeyID(ctx, "aaaaaaaaaaaa"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("old key id still found: %v", err)
	}
	_ = m.APIKeys.TouchAPIKey(ctx, k.ID, t0)
	if got, _ := m.APIKeys.APIKeyByKeyID(ctx, "bbbbbbbbbbbb"); got.Hash != "h2" || got.LastUsedAt == nil || !got.LastUsedAt.Equal(t0) {
		t.Errorf("key = %+v", got)
	}
}

func TestMemLockoutWindow(t *testing.T) {
	l := &MemLockout{}
	w, lock := 15*time.Minute, 15*time.Minute
	fail := func(at time.Time) time.Time {
		until, err := l.Fail(ctx, "user:a", at, w, 3, lock)
		if err != nil {
			t.Fatal(err)
		}
		return until
	}
	fail(t0)
	fail(t0.Add(time.Minute))
	// The first failure falls out of the window: still only two.
	if u := fail(t0.Add(15 * time.Minute)); !u.IsZero() {
		t.Fatalf("locked with 2 failures in the window: %v", u)
	}
	at := t0.Add(15*time.Minute + 30*time.Second)
	if u := fail(at); !u.Equal(at.Add(lock)) {
		t.Fatalf("third failure in the window: until %v, want %v", u, at.Add(lock))
	}
	if u, _ := l.LockedUntil(ctx, "user:a", at.Add(lock-time.Second)); !u.Equal(at.Add(lock)) {
		t.Errorf("LockedUntil = %v", u)
	}
	if u, _ := l.LockedUntil(ctx, "user:a", at.Add(lock)); !u.IsZero() {
		t.Errorf("lock should end at until: %v", u)
	}
	if u, _ := l.LockedUntil(ctx, "ip:x", at); !u.IsZero() {
		t.Error("other keys are independent")
	}
	fail(at.Add(lock))
	fail(at.Add(lock))
	_ = l.Reset(ctx, "user:a")
	if u := fail(at.Add(lock)); !u.IsZero() {
		t.Errorf("Reset must clear the count: %v", u)
	}
}

func TestMemSettings(t *testing.T) {
	s := &MemSettings{}
	if _, ok, _ := s.Setting(ctx, "k"); ok {
		t.Fatal("unset key reported set")
	}
	_ = s.SetSetting(ctx, "k", "v")
	if v, ok, _ := s.Setting(ctx, "k"); !ok || v != "v" {
		t.Errorf("Setting = %q, %v", v, ok)
	}
}

// TestMemoryStoresConformance runs the shared store suite against the memory stores.
func TestMemoryStoresConformance(t *testing.T) {
	TestStores(t, func(t *testing.T) Stores {
		m := NewMemory()
		return Stores{Users: m.Users, Sessions: m.Sessions, Codes: m.Codes, APIKeys: m.APIKeys,
			Lockout: m.Lockout, Settings: m.Settings}
	})
}
