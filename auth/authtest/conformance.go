package authtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// Stores bundles one implementation of every auth store.
type Stores struct {
	Users    auth.UserStore
	Sessions auth.SessionStore
	Codes    auth.CodeStore
	APIKeys  auth.APIKeyStore
	Lockout  auth.LockoutStore
	Settings auth.SettingsStore
}

// TestStores runs the behaviour every implementation of the auth stores must
// have; open returns fresh, empty stores (it is called once per subtest, and
// the stores of one call share one backend, as users are referenced by
// sessions, codes and keys). Times are a fixed base time plus offsets, so
// nothing sleeps; they have whole-second precision, which every backend keeps.
// The suite includes concurrency checks (20 simultaneous redemptions of a
// single-use code, 20 simultaneous rotations of one refresh token).
func TestStores(t *testing.T, open func(t *testing.T) Stores) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, Stores)
	}{
		{"UserCreateAndGet", testUserCreateAndGet},
		{"UserUniqueness", testUserUniqueness},
		{"UserUpdate", testUserUpdate},
		{"UserLostUpdate", testUserLostUpdate},
		{"LastAdmin", testLastAdmin},
		{"PatchRevokes", testPatchRevokes},
		{"UserList", testUserList},
		{"UserCounts", testUserCounts},
		{"PasswordHistory", testPasswordHistory},
		{"Sessions", testSessions},
		{"SessionListAndRevokeAll", testSessionListAndRevokeAll},
		{"ConcurrentRotate", testConcurrentRotate},
		{"Codes", testCodes},
		{"CreateUserWithCode", testCreateUserWithCode},
		{"ConcurrentRedemption", testConcurrentRedemption},
		{"APIKeys", testAPIKeys},
		{"Lockout", testLockout},
		{"Settings", testSettings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// at is the suite's clock: a fixed base time plus d.
func at(d time.Duration) time.Time {
	return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).Add(d)
}

const day = 24 * time.Hour

// newUser returns a valid, active user named name (email name@example.com).
func newUser(name string) *auth.User {
	return &auth.User{
		Username: name, Email: name + "@example.com", PasswordHash: "$argon2id$test$" + name,
		Role: auth.RoleUser, IsActive: true, CreatedAt: at(0), UpdatedAt: at(0),
	}
}

func createUser(t *testing.T, s Stores, u *auth.User) *auth.User {
	t.Helper()
	if err := s.Users.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q, %q): %v", u.Username, u.Email, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func sameTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, got, want)
	default:
		sameTime(t, what, *got, *want)
	}
}

func sameInt64Ptr(t *testing.T, what string, got, want *int64) {
	t.Helper()
	if (got == nil) != (want == nil) || got != nil && *got != *want {
		t.Errorf("%s = %v, want %v", what, fmtPtr(got), fmtPtr(want))
	}
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func ptr[T any](v T) *T { return &v }

// checkUser compares the stored fields of got with want.
func checkUser(t *testing.T, got, want *auth.User) {
	t.Helper()
	if got.ID != want.ID || got.UUID != want.UUID || got.Username != want.Username ||
		got.Email != want.Email || got.PasswordHash != want.PasswordHash || got.Role != want.Role ||
		got.IsActive != want.IsActive || got.IsVerified != want.IsVerified ||
		got.MustChangePassword != want.MustChangePassword || got.StorageUsedBytes != want.StorageUsedBytes ||
		got.AudioTier != want.AudioTier {
		t.Errorf("user = %+v\nwant   %+v", *got, *want)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	sameTimePtr(t, "LastLogin", got.LastLogin, want.LastLogin)
	sameInt64Ptr(t, "CreatedBy", got.CreatedBy, want.CreatedBy)
	sameInt64Ptr(t, "StorageQuotaMB", got.StorageQuotaMB, want.StorageQuotaMB)
}

func testUserCreateAndGet(t *testing.T, s Stores) {
	ctx := t.Context()
	creator := createUser(t, s, newUser("creator"))
	u := &auth.User{
		Username: "Alice", Email: "Alice@Example.com", PasswordHash: "hash-1",
		Role: auth.RoleModerator, IsActive: true, IsVerified: true, MustChangePassword: true,
		CreatedAt: at(0), UpdatedAt: at(time.Minute), LastLogin: ptr(at(time.Hour)),
		CreatedBy: &creator.ID, StorageQuotaMB: ptr(int64(512)), AudioTier: "premium",
	}
	createUser(t, s, u)
	if u.ID == 0 || u.ID == creator.ID || u.UUID == "" || u.UUID == creator.UUID {
		t.Fatalf("after CreateUser: ID %d, UUID %q (creator %d, %q); want new, distinct values",
			u.ID, u.UUID, creator.ID, creator.UUID)
	}
	got, err := s.Users.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, got, u)

	for _, login := range []string{"Alice", "alice", "ALICE", "ａｌｉｃｅ", " alice ", "alice@example.com", "ALICE@EXAMPLE.COM"} {
		got, err := s.Users.UserByLogin(ctx, login)
		if err != nil {
			t.Errorf("UserByLogin(%q): %v", login, err)
		} else if got.ID != u.ID {
			t.Errorf("UserByLogin(%q) = user %d, want %d", login, got.ID, u.ID)
		}
	}
	for _, login := range []string{"nobody", "nobody@example.com", "", "not a login!"} {
		_, err := s.Users.UserByLogin(ctx, login)
		wantErr(t, fmt.Sprintf("UserByLogin(%q)", login), err, auth.ErrNotFound)
	}
	_, err = s.Users.UserByID(ctx, u.ID+1000)
	wantErr(t, "UserByID(unknown)", err, auth.ErrNotFound)

	// Zero timestamps are filled in.
	z := newUser("zed")
	z.CreatedAt, z.UpdatedAt = time.Time{}, time.Time{}
	createUser(t, s, z)
	if z.CreatedAt.IsZero() || z.UpdatedAt.IsZero() {
		t.Errorf("CreateUser left CreatedAt %v, UpdatedAt %v zero", z.CreatedAt, z.UpdatedAt)
	}
}

func testUserUniqueness(t *testing.T, s Stores) {
	ctx := t.Context()
	alice := createUser(t, s, &auth.User{Username: "Alice", Email: "alice@example.com", PasswordHash: "h", Role: auth.RoleUser, IsActive: true, CreatedAt: at(0), UpdatedAt: at(0)})
	tests := []struct{ name, username, email string }{
		{"username lower case", "alice", "other1@example.com"},
		{"username upper case", "ALICE", "other2@example.com"},
		{"username fullwidth", "ＡＬＩＣＥ", "other3@example.com"},
		{"username padded", " alice ", "other4@example.com"},
		{"email upper case", "bob1", "ALICE@EXAMPLE.COM"},
		{"email mixed case", "bob2", "Alice@Example.Com"},
		{"email fullwidth", "bob3", "ａｌｉｃｅ@example.com"},
	}
	for _, tt := range tests {
		u := newUser(tt.username)
		u.Email = tt.email
		wantErr(t, "CreateUser "+tt.name, s.Users.CreateUser(ctx, u), auth.ErrConflict)
	}
	if n, err := s.Users.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers after conflicts = %d, %v; want 1", n, err)
	}

	bob := createUser(t, s, newUser("bob"))
	for _, tt := range []struct{ name, username, email string }{
		{"to taken username", "ALICE", "bob@example.com"},
		{"to taken email", "bob", "Alice@Example.com"},
	} {
		_, err := s.Users.UpdateUser(ctx, bob.ID, auth.UserPatch{Username: &tt.username, Email: &tt.email})
		wantErr(t, "UpdateUser "+tt.name, err, auth.ErrConflict)
	}
	got, err := s.Users.UserByID(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "bob" || got.Email != "bob@example.com" {
		t.Errorf("after failed updates bob is %q <%s>", got.Username, got.Email)
	}
	// A user may keep its own name in another case.
	if _, err := s.Users.UpdateUser(ctx, bob.ID, auth.UserPatch{Username: ptr("Bob"), Email: ptr("BOB@example.com")}); err != nil {
		t.Errorf("UpdateUser to own name in another case: %v", err)
	}
	if got, err := s.Users.UserByLogin(ctx, "alice"); err != nil || got.ID != alice.ID {
		t.Errorf("UserByLogin(alice) = %v, %v", got, err)
	}
}

func testUserUpdate(t *testing.T, s Stores) {
	ctx := t.Context()
	orig := *createUser(t, s, newUser("carol"))

	quota := ptr(int64(100))
	res, err := s.Users.UpdateUser(ctx, orig.ID, auth.UserPatch{
		Username: ptr("Caroline"), Email: ptr("caroline@example.org"), PasswordHash: ptr("hash-2"),
		Role: ptr(auth.RoleAdmin), IsActive: ptr(false), IsVerified: ptr(true), MustChangePassword: ptr(true),
		LastLogin: ptr(at(time.Hour)), StorageQuotaMB: &quota, AudioTier: ptr("standard"), UpdatedAt: at(2 * time.Hour),
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want := orig
	want.Username, want.Email, want.PasswordHash = "Caroline", "caroline@example.org", "hash-2"
	want.Role, want.IsActive, want.IsVerified, want.MustChangePassword = auth.RoleAdmin, false, true, true
	want.UpdatedAt, want.LastLogin, want.StorageQuotaMB = at(2*time.Hour), ptr(at(time.Hour)), quota
	want.AudioTier = "standard"
	checkUser(t, res.User, &want)
	got, err := s.Users.UserByID(ctx, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, &want)
	if _, err := s.Users.UserByLogin(ctx, "caroline"); err != nil {
		t.Errorf("UserByLogin(new name): %v", err)
	}
	_, err = s.Users.UserByLogin(ctx, "carol")
	wantErr(t, "UserByLogin(old name)", err, auth.ErrNotFound)
	_, err = s.Users.UserByLogin(ctx, "carol@example.com")
	wantErr(t, "UserByLogin(old email)", err, auth.ErrNotFound)

	// An empty patch writes nothing (UpdatedAt zero leaves it); a nil quota is unlimited.
	var unlimited *int64
	if res, err = s.Users.UpdateUser(ctx, orig.ID, auth.UserPatch{StorageQuotaMB: &unlimited}); err != nil {
		t.Fatal(err)
	}
	want.StorageQuotaMB = nil
	checkUser(t, res.User, &want)
	// An empty audio tier is the default tier again.
	if res, err = s.Users.UpdateUser(ctx, orig.ID, auth.UserPatch{AudioTier: ptr("")}); err != nil {
		t.Fatal(err)
	}
	want.AudioTier = ""
	checkUser(t, res.User, &want)
	if got, err = s.Users.UserByID(ctx, orig.ID); err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, &want)

	// IfPasswordHash guards a rehash against a concurrent password change.
	_, err = s.Users.UpdateUser(ctx, orig.ID, auth.UserPatch{PasswordHash: ptr("rehash"), IfPasswordHash: "hash-1"})
	wantErr(t, "UpdateUser(stale IfPasswordHash)", err, auth.ErrConflict)
	if res, err = s.Users.UpdateUser(ctx, orig.ID, auth.UserPatch{PasswordHash: ptr("rehash"), IfPasswordHash: "hash-2"}); err != nil || res.User.PasswordHash != "rehash" {
		t.Errorf("UpdateUser(current IfPasswordHash) = %v, %v", res, err)
	}

	_, err = s.Users.UpdateUser(ctx, orig.ID+1000, auth.UserPatch{IsVerified: ptr(true)})
	wantErr(t, "UpdateUser(unknown)", err, auth.ErrNotFound)
}

// testUserLostUpdate: patches of different fields never undo each other, neither one after
// the other from a stale read nor concurrently.
func testUserLostUpdate(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("racer"))
	// An admin deactivates and demotes; a password change read the user before.
	if _, err := s.Users.UpdateUser(ctx, u.ID, auth.UserPatch{IsActive: ptr(false), Role: ptr(auth.RoleUser)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Users.UpdateUser(ctx, u.ID, auth.UserPatch{PasswordHash: ptr("new"), MustChangePassword: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Users.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.IsActive || got.Role != auth.RoleUser || got.PasswordHash != "new" {
		t.Errorf("after deactivation then password change: active %v, role %s, hash %q", got.IsActive, got.Role, got.PasswordHash)
	}

	const n = 25
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for _, patch := range []func(i int) auth.UserPatch{
		func(i int) auth.UserPatch { return auth.UserPatch{PasswordHash: ptr(fmt.Sprintf("hash-%d", i))} },
		func(i int) auth.UserPatch { return auth.UserPatch{IsVerified: ptr(i%2 == 0)} },
		func(i int) auth.UserPatch { q := ptr(int64(i)); return auth.UserPatch{StorageQuotaMB: &q} },
		func(i int) auth.UserPatch { return auth.UserPatch{AudioTier: ptr(fmt.Sprintf("tier-%d", i))} },
	} {
		wg.Go(func() {
			for i := range n {
				if _, err := s.Users.UpdateUser(ctx, u.ID, patch(i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent UpdateUser: %v", err)
	}
	if got, err = s.Users.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != fmt.Sprintf("hash-%d", n-1) || got.IsVerified != ((n-1)%2 == 0) ||
		got.StorageQuotaMB == nil || *got.StorageQuotaMB != n-1 || got.IsActive || got.Role != auth.RoleUser ||
		got.AudioTier != fmt.Sprintf("tier-%d", n-1) {
		t.Errorf("after concurrent patches: hash %q, verified %v, quota %s, active %v, role %s, audio tier %q",
			got.PasswordHash, got.IsVerified, fmtPtr(got.StorageQuotaMB), got.IsActive, got.Role, got.AudioTier)
	}
}

// testLastAdmin: the last active admin can be neither demoted nor deactivated, also when two
// admins are demoted concurrently (TestLastAdminAcrossStores runs that across processes).
func testLastAdmin(t *testing.T, s Stores) {
	ctx := t.Context()
	mk := func(name string) *auth.User {
		u := newUser(name)
		u.Role = auth.RoleAdmin
		return createUser(t, s, u)
	}
	a, b := mk("admin-a"), mk("admin-b")
	if _, err := s.Users.UpdateUser(ctx, b.ID, auth.UserPatch{IsActive: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Users.UpdateUser(ctx, a.ID, auth.UserPatch{Role: ptr(auth.RoleUser)})
	wantErr(t, "demote the last admin", err, auth.ErrLastAdmin)
	_, err = s.Users.UpdateUser(ctx, a.ID, auth.UserPatch{IsActive: ptr(false)})
	wantErr(t, "deactivate the last admin", err, auth.ErrLastAdmin)
	// Other changes to the last admin, and keeping it an active admin, are fine.
	if _, err := s.Users.UpdateUser(ctx, a.ID, auth.UserPatch{Role: ptr(auth.RoleAdmin), IsActive: ptr(true), IsVerified: ptr(true)}); err != nil {
		t.Errorf("no-op role change of the last admin: %v", err)
	}
	if _, err := s.Users.UpdateUser(ctx, b.ID, auth.UserPatch{IsActive: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	ConcurrentDemotions(t, s.Users, s.Users, a.ID, b.ID, 20)
}

// ConcurrentDemotions removes admins a (through store x) and b (through store y) at the same
// time, rounds times, one by demotion and the other by deactivation (alternating), and
// restores both between rounds. Every round must refuse exactly one of the two with
// ErrLastAdmin and leave one active admin. x and y may be the stores of two processes on one
// database; a and b must be the only active admins.
func ConcurrentDemotions(t *testing.T, x, y auth.UserStore, a, b int64, rounds int) {
	t.Helper()
	ctx := t.Context()
	demote := auth.UserPatch{Role: ptr(auth.RoleUser)}
	deactivate := auth.UserPatch{IsActive: ptr(false)}
	for round := range rounds {
		pa, pb := demote, deactivate
		if round%2 == 1 {
			pa, pb = deactivate, demote
		}
		var wg sync.WaitGroup
		var ea, eb error
		wg.Go(func() { _, ea = x.UpdateUser(ctx, a, pa) })
		wg.Go(func() { _, eb = y.UpdateUser(ctx, b, pb) })
		wg.Wait()
		n, err := x.CountActiveAdmins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, err := range []error{ea, eb} {
			if errors.Is(err, auth.ErrLastAdmin) {
				refused++
			} else if err != nil {
				t.Fatalf("round %d: UpdateUser: %v", round, err)
			}
		}
		if n != 1 || refused != 1 {
			t.Fatalf("round %d: %d active admins after concurrent removals (errors %v, %v)", round, n, ea, eb)
		}
		for _, id := range []int64{a, b} {
			if _, err := x.UpdateUser(ctx, id, auth.UserPatch{Role: ptr(auth.RoleAdmin), IsActive: ptr(true)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func userIDs(users []auth.User) []int64 {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

func testUserList(t *testing.T, s Stores) {
	ctx := t.Context()
	mk := func(name, email string, role auth.Role, active bool) int64 {
		u := newUser(name)
		u.Email, u.Role, u.IsActive = email, role, active
		return createUser(t, s, u).ID
	}
	ann := mk("ann", "ann@example.com", auth.RoleAdmin, true)
	bob := mk("bob", "bob@example.com", auth.RoleAdmin, false)
	cat := mk("cat", "cat@example.com", auth.RoleModerator, true)
	dx := mk("Dave_X", "dx@example.com", auth.RoleUser, true)
	d1 := mk("davex1", "d1@example.com", auth.RoleUser, true)
	erin := mk("erin", "erin@dave.example", auth.RoleUser, false)

	tests := []struct {
		name  string
		f     auth.UserFilter
		want  []int64
		total int
	}{
		{"all", auth.UserFilter{}, []int64{ann, bob, cat, dx, d1, erin}, 6},
		{"role", auth.UserFilter{Role: auth.RoleAdmin}, []int64{ann, bob}, 2},
		{"role and active", auth.UserFilter{Role: auth.RoleAdmin, IsActive: ptr(true)}, []int64{ann}, 1},
		{"inactive", auth.UserFilter{IsActive: ptr(false)}, []int64{bob, erin}, 2},
		{"search username or email", auth.UserFilter{Search: "dave"}, []int64{dx, d1, erin}, 3},
		{"search case-insensitive", auth.UserFilter{Search: "DAVE"}, []int64{dx, d1, erin}, 3},
		{"search underscore is literal", auth.UserFilter{Search: "dave_"}, []int64{dx}, 1},
		{"search percent is literal", auth.UserFilter{Search: "%"}, nil, 0},
		{"search and filter", auth.UserFilter{Search: "dave", IsActive: ptr(true)}, []int64{dx, d1}, 2},
		{"search no match", auth.UserFilter{Search: "zzz"}, nil, 0},
		{"first page", auth.UserFilter{Limit: 2}, []int64{ann, bob}, 6},
		{"second page", auth.UserFilter{Limit: 2, Offset: 2}, []int64{cat, dx}, 6},
		{"past the end", auth.UserFilter{Limit: 2, Offset: 6}, nil, 6},
		{"filtered page", auth.UserFilter{Role: auth.RoleUser, Limit: 1, Offset: 1}, []int64{d1}, 3},
	}
	for _, tt := range tests {
		users, total, err := s.Users.ListUsers(ctx, tt.f)
		if err != nil {
			t.Errorf("ListUsers %s: %v", tt.name, err)
			continue
		}
		if got := userIDs(users); !slices.Equal(got, tt.want) || total != tt.total {
			t.Errorf("ListUsers %s = %v (total %d), want %v (total %d)", tt.name, got, total, tt.want, tt.total)
		}
	}

	// Limit defaults to 20 and is capped at 100.
	for i := range 99 {
		mk(fmt.Sprintf("bulk%03d", i), fmt.Sprintf("bulk%03d@example.com", i), auth.RoleUser, true)
	}
	for _, tt := range []struct {
		limit, want int
	}{{0, 20}, {-1, 20}, {1000, 100}, {50, 50}} {
		users, total, err := s.Users.ListUsers(ctx, auth.UserFilter{Limit: tt.limit})
		if err != nil || len(users) != tt.want || total != 105 {
			t.Errorf("ListUsers(Limit %d) = %d users (total %d), %v; want %d (total 105)", tt.limit, len(users), total, err, tt.want)
		}
	}
}

func testUserCounts(t *testing.T, s Stores) {
	ctx := t.Context()
	count := func(wantUsers, wantAdmins int) {
		t.Helper()
		if n, err := s.Users.CountUsers(ctx); err != nil || n != wantUsers {
			t.Errorf("CountUsers = %d, %v; want %d", n, err, wantUsers)
		}
		if n, err := s.Users.CountActiveAdmins(ctx); err != nil || n != wantAdmins {
			t.Errorf("CountActiveAdmins = %d, %v; want %d", n, err, wantAdmins)
		}
	}
	count(0, 0)
	a := newUser("admin1")
	a.Role = auth.RoleAdmin
	createUser(t, s, a)
	b := newUser("admin2")
	b.Role, b.IsActive = auth.RoleAdmin, false
	createUser(t, s, b)
	m := newUser("mod")
	m.Role = auth.RoleModerator
	createUser(t, s, m)
	createUser(t, s, newUser("plain"))
	count(4, 1)
	if _, err := s.Users.UpdateUser(ctx, b.ID, auth.UserPatch{IsActive: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	count(4, 2)
	if _, err := s.Users.UpdateUser(ctx, a.ID, auth.UserPatch{Role: ptr(auth.RoleUser)}); err != nil {
		t.Fatal(err)
	}
	count(4, 1)
}

// testPatchRevokes: UserPatch.Revoke revokes the user's live sessions and API keys (each
// but the one excepted) with the change, and nobody else's.
func testPatchRevokes(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("recover"))
	v := createUser(t, s, newUser("other"))
	a := createSession(t, s, newSession(u.ID, "a", at(0)))
	keep := createSession(t, s, newSession(u.ID, "keep", at(0)))
	e := createSession(t, s, newSession(v.ID, "e", at(0)))
	key := func(user int64, keyID string) *auth.APIKey {
		k := &auth.APIKey{KeyID: keyID, UserID: user, Name: keyID, Prefix: "tldw_" + keyID, Hash: "h" + keyID, CreatedAt: at(0)}
		if err := s.APIKeys.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2, kKeep, kOther := key(u.ID, "aaaaaaaaaaa1"), key(u.ID, "aaaaaaaaaaa2"), key(u.ID, "aaaaaaaaaaa3"), key(v.ID, "aaaaaaaaaaa4")
	if err := s.APIKeys.RevokeAPIKey(ctx, u.ID, k2.ID, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	now := at(time.Minute)
	res, err := s.Users.UpdateUser(ctx, u.ID, auth.UserPatch{PasswordHash: ptr("reset"), UpdatedAt: now,
		Revoke: &auth.Revocation{Reason: "password reset", ExceptSession: keep.ID, APIKeys: true, ExceptAPIKey: kKeep.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Sessions, []int64{a.ID}) || res.APIKeys != 1 || res.User.PasswordHash != "reset" {
		t.Errorf("UpdateUser with Revoke = sessions %v, %d keys, hash %q; want [%d], 1, reset", res.Sessions, res.APIKeys, res.User.PasswordHash, a.ID)
	}
	if got := getSession(t, s, a.ID); got.RevokedAt == nil || !got.RevokedAt.Equal(now) || got.RevokeReason != "password reset" {
		t.Errorf("revoked session: RevokedAt %v, reason %q", got.RevokedAt, got.RevokeReason)
	}
	for _, id := range []int64{keep.ID, e.ID} {
		if got := getSession(t, s, id); got.RevokedAt != nil {
			t.Errorf("session %d was revoked", id)
		}
	}
	keys, err := s.APIKeys.ListAPIKeys(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		wantRevoked := map[int64]*time.Time{k1.ID: &now, k2.ID: ptr(at(time.Second)), kKeep.ID: nil}[k.ID]
		if (k.RevokedAt == nil) != (wantRevoked == nil) || k.RevokedAt != nil && !k.RevokedAt.Equal(*wantRevoked) {
			t.Errorf("key %d RevokedAt = %v, want %v", k.ID, k.RevokedAt, wantRevoked)
		}
	}
	if k, err := s.APIKeys.APIKeyByKeyID(ctx, kOther.KeyID); err != nil || k.RevokedAt != nil {
		t.Errorf("another user's key: %v, %v", k, err)
	}
	// A refused patch revokes nothing.
	admin := newUser("only-admin")
	admin.Role = auth.RoleAdmin
	createUser(t, s, admin)
	as := createSession(t, s, newSession(admin.ID, "as", at(0)))
	_, err = s.Users.UpdateUser(ctx, admin.ID, auth.UserPatch{IsActive: ptr(false), UpdatedAt: now, Revoke: &auth.Revocation{Reason: "deactivated"}})
	wantErr(t, "deactivate the last admin", err, auth.ErrLastAdmin)
	if got := getSession(t, s, as.ID); got.RevokedAt != nil {
		t.Error("a refused patch revoked the admin's session")
	}
}

func testPasswordHistory(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("hist"))
	other := createUser(t, s, newUser("other"))
	for i := 1; i <= 5; i++ {
		if err := s.Users.AddPasswordHistory(ctx, u.ID, fmt.Sprintf("h%d", i), 3); err != nil {
			t.Fatalf("AddPasswordHistory: %v", err)
		}
	}
	if err := s.Users.AddPasswordHistory(ctx, other.ID, "x1", 3); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user int64
		n    int
		want []string
	}{
		{u.ID, 10, []string{"h5", "h4", "h3"}},
		{u.ID, 2, []string{"h5", "h4"}},
		{u.ID, 0, nil},
		{other.ID, 10, []string{"x1"}},
		{other.ID + 1000, 10, nil},
	} {
		got, err := s.Users.PasswordHistory(ctx, tt.user, tt.n)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("PasswordHistory(user %d, %d) = %q, %v; want %q", tt.user, tt.n, got, err, tt.want)
		}
	}
}

func newSession(userID int64, refresh string, created time.Time) *auth.Session {
	return &auth.Session{
		UserID: userID, TokenHash: "access-" + refresh, RefreshHash: refresh,
		IPAddress: "192.0.2.1", UserAgent: "authtest/1", CreatedAt: created, LastActivity: created,
		ExpiresAt: created.Add(30 * time.Minute), RefreshExpiresAt: created.Add(7 * day),
	}
}

func createSession(t *testing.T, s Stores, sess *auth.Session) *auth.Session {
	t.Helper()
	if err := s.Sessions.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if sess.ID == 0 {
		t.Fatal("CreateSession did not set ID")
	}
	return sess
}

func getSession(t *testing.T, s Stores, id int64) *auth.Session {
	t.Helper()
	got, err := s.Sessions.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%d): %v", id, err)
	}
	return got
}

func checkSession(t *testing.T, got, want *auth.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.TokenHash != want.TokenHash ||
		got.RefreshHash != want.RefreshHash || got.PrevRefreshHash != want.PrevRefreshHash ||
		got.IPAddress != want.IPAddress || got.UserAgent != want.UserAgent || got.RevokeReason != want.RevokeReason {
		t.Errorf("session = %+v\nwant      %+v", *got, *want)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, "LastActivity", got.LastActivity, want.LastActivity)
	sameTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	sameTime(t, "RefreshExpiresAt", got.RefreshExpiresAt, want.RefreshExpiresAt)
	sameTimePtr(t, "RotatedAt", got.RotatedAt, want.RotatedAt)
	sameTimePtr(t, "RevokedAt", got.RevokedAt, want.RevokedAt)
}

func testSessions(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("sess"))
	s1 := createSession(t, s, newSession(u.ID, "ref1", at(0)))
	want := *s1
	checkSession(t, getSession(t, s, s1.ID), &want)
	if got, err := s.Sessions.SessionByRefreshHash(ctx, "ref1"); err != nil || got.ID != s1.ID {
		t.Errorf("SessionByRefreshHash(current) = %v, %v", got, err)
	}
	for _, h := range []string{"nope", ""} {
		_, err := s.Sessions.SessionByRefreshHash(ctx, h)
		wantErr(t, fmt.Sprintf("SessionByRefreshHash(%q)", h), err, auth.ErrNotFound)
	}
	_, err := s.Sessions.SessionByID(ctx, s1.ID+1000)
	wantErr(t, "SessionByID(unknown)", err, auth.ErrNotFound)

	// Rotation replaces the refresh hash and keeps the previous one findable.
	if err := s.Sessions.RotateRefresh(ctx, s1.ID, "ref1", "ref2", "acc2", at(90*time.Minute), at(8*day), at(time.Hour)); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	want.RefreshHash, want.PrevRefreshHash, want.TokenHash = "ref2", "ref1", "acc2"
	want.RotatedAt, want.ExpiresAt, want.RefreshExpiresAt, want.LastActivity = ptr(at(time.Hour)), at(90*time.Minute), at(8*day), at(time.Hour)
	checkSession(t, getSession(t, s, s1.ID), &want)
	for _, h := range []string{"ref1", "ref2"} {
		if got, err := s.Sessions.SessionByRefreshHash(ctx, h); err != nil || got.ID != s1.ID {
			t.Errorf("SessionByRefreshHash(%q) after rotation = %v, %v", h, got, err)
		}
	}
	err = s.Sessions.RotateRefresh(ctx, s1.ID, "ref1", "ref3", "acc3", at(2*time.Hour), at(9*day), at(2*time.Hour))
	wantErr(t, "RotateRefresh with a stale hash", err, auth.ErrConflict)
	checkSession(t, getSession(t, s, s1.ID), &want)

	if err := s.Sessions.UpdateAccess(ctx, s1.ID, "acc4", at(3*time.Hour), at(150*time.Minute)); err != nil {
		t.Fatalf("UpdateAccess: %v", err)
	}
	want.TokenHash, want.ExpiresAt, want.LastActivity = "acc4", at(3*time.Hour), at(150*time.Minute)
	checkSession(t, getSession(t, s, s1.ID), &want)
	if err := s.Sessions.TouchSession(ctx, s1.ID, at(160*time.Minute)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	want.LastActivity = at(160 * time.Minute)
	checkSession(t, getSession(t, s, s1.ID), &want)
	wantErr(t, "UpdateAccess(unknown)", s.Sessions.UpdateAccess(ctx, s1.ID+1000, "x", at(0), at(0)), auth.ErrNotFound)
	wantErr(t, "TouchSession(unknown)", s.Sessions.TouchSession(ctx, s1.ID+1000, at(0)), auth.ErrNotFound)

	// Revocation is final and idempotent.
	if err := s.Sessions.RevokeSession(ctx, s1.ID, "logout", at(4*time.Hour)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	want.RevokedAt, want.RevokeReason = ptr(at(4*time.Hour)), "logout"
	got := getSession(t, s, s1.ID)
	checkSession(t, got, &want)
	if got.Live(at(4 * time.Hour)) {
		t.Error("revoked session is Live")
	}
	if err := s.Sessions.RevokeSession(ctx, s1.ID, "again", at(5*time.Hour)); err != nil {
		t.Errorf("RevokeSession of a revoked session: %v", err)
	}
	if got := getSession(t, s, s1.ID); got.RevokedAt == nil || !got.RevokedAt.Equal(at(4*time.Hour)) {
		t.Errorf("second RevokeSession changed RevokedAt to %v", got.RevokedAt)
	}
	err = s.Sessions.RotateRefresh(ctx, s1.ID, "ref2", "ref5", "acc5", at(6*time.Hour), at(9*day), at(5*time.Hour))
	wantErr(t, "RotateRefresh of a revoked session", err, auth.ErrConflict)
	wantErr(t, "RevokeSession(unknown)", s.Sessions.RevokeSession(ctx, s1.ID+1000, "x", at(0)), auth.ErrNotFound)
}

func sessionIDs(ss []auth.Session) []int64 {
	ids := make([]int64, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

func testSessionListAndRevokeAll(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("multi"))
	v := createUser(t, s, newUser("bystander"))
	a := createSession(t, s, newSession(u.ID, "a", at(0)))
	b := newSession(u.ID, "b", at(time.Minute))
	b.RefreshExpiresAt = at(time.Hour) // expired by "now" below
	createSession(t, s, b)
	c := createSession(t, s, newSession(u.ID, "c", at(2*time.Minute)))
	d := createSession(t, s, newSession(u.ID, "d", at(3*time.Minute)))
	e := createSession(t, s, newSession(v.ID, "e", at(0)))
	if err := s.Sessions.RevokeSession(ctx, c.ID, "logout", at(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	now := at(2 * time.Hour)

	list := func(user int64, live bool, want ...int64) {
		t.Helper()
		got, err := s.Sessions.ListSessions(ctx, user, live, now)
		if err != nil || !slices.Equal(sessionIDs(got), want) {
			t.Errorf("ListSessions(user %d, liveOnly %v) = %v, %v; want %v", user, live, sessionIDs(got), err, want)
		}
	}
	list(u.ID, false, d.ID, c.ID, b.ID, a.ID)
	list(u.ID, true, d.ID, a.ID)
	list(v.ID, true, e.ID)
	countLive(t, s, now, 3)

	ids, err := s.Sessions.RevokeUserSessions(ctx, u.ID, d.ID, "password changed", now)
	if err != nil || !slices.Equal(ids, []int64{a.ID}) {
		t.Errorf("RevokeUserSessions(except %d) = %v, %v; want [%d]", d.ID, ids, err, a.ID)
	}
	got := getSession(t, s, a.ID)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(now) || got.RevokeReason != "password changed" {
		t.Errorf("revoked session: RevokedAt %v, reason %q", got.RevokedAt, got.RevokeReason)
	}
	if got := getSession(t, s, c.ID); got.RevokeReason != "logout" || !got.RevokedAt.Equal(at(10*time.Minute)) {
		t.Errorf("already revoked session changed: RevokedAt %v, reason %q", got.RevokedAt, got.RevokeReason)
	}
	list(u.ID, true, d.ID)
	list(v.ID, true, e.ID)

	ids, err = s.Sessions.RevokeUserSessions(ctx, u.ID, 0, "admin", now)
	if err != nil || !slices.Equal(ids, []int64{d.ID}) {
		t.Errorf("RevokeUserSessions(all) = %v, %v; want [%d]", ids, err, d.ID)
	}
	ids, err = s.Sessions.RevokeUserSessions(ctx, u.ID, 0, "admin", now)
	if err != nil || len(ids) != 0 {
		t.Errorf("RevokeUserSessions with nothing live = %v, %v; want none", ids, err)
	}
	list(u.ID, true)
	list(v.ID, true, e.ID)
	countLive(t, s, now, 1)
}

// countLive checks auth.LiveSessionCounter when the session store has it.
func countLive(t *testing.T, s Stores, now time.Time, want int) {
	t.Helper()
	c, ok := s.Sessions.(auth.LiveSessionCounter)
	if !ok {
		return
	}
	if n, err := c.CountLiveSessions(t.Context(), now); err != nil || n != want {
		t.Errorf("CountLiveSessions = %d, %v; want %d", n, err, want)
	}
}

func testConcurrentRotate(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("racer"))
	sess := createSession(t, s, newSession(u.ID, "r0", at(0)))
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Sessions.RotateRefresh(ctx, sess.ID, "r0", fmt.Sprintf("r1-%d", i), "acc", at(time.Hour), at(8*day), at(time.Minute))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("rotations %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, auth.ErrConflict):
			t.Errorf("rotation %d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rotation succeeded")
	}
	got := getSession(t, s, sess.ID)
	if want := fmt.Sprintf("r1-%d", winner); got.RefreshHash != want || got.PrevRefreshHash != "r0" {
		t.Errorf("after the race: RefreshHash %q, PrevRefreshHash %q; want %q, r0", got.RefreshHash, got.PrevRefreshHash, want)
	}
}

func newCode(code string, maxUses int, expires time.Time) *auth.RegistrationCode {
	return &auth.RegistrationCode{
		Code: code, MaxUses: maxUses, ExpiresAt: expires, RoleToGrant: auth.RoleUser,
		IsActive: true, CreatedAt: at(0),
	}
}

func createCode(t *testing.T, s Stores, c *auth.RegistrationCode) *auth.RegistrationCode {
	t.Helper()
	if err := s.Codes.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode(%s): %v", c.Code, err)
	}
	if c.ID == 0 {
		t.Fatal("CreateCode did not set ID")
	}
	return c
}

func codeIDs(cs []auth.RegistrationCode) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

func testCodes(t *testing.T, s Stores) {
	ctx := t.Context()
	admin := createUser(t, s, newUser("admin"))
	c1 := newCode("AAAAAAAAAAAAAAAAAAAAAAA1", 3, at(7*day))
	c1.CreatedBy = admin.ID
	createCode(t, s, c1)
	c2 := newCode("AAAAAAAAAAAAAAAAAAAAAAA2", 1, at(day))
	c2.RoleToGrant, c2.AllowedEmailDomain, c2.CreatedAt = auth.RoleModerator, "example.org", at(time.Minute)
	createCode(t, s, c2)

	got, err := s.Codes.CodeByID(ctx, c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Code != c2.Code || got.MaxUses != 1 || got.TimesUsed != 0 || got.RoleToGrant != auth.RoleModerator ||
		got.AllowedEmailDomain != "example.org" || !got.IsActive || got.CreatedBy != 0 {
		t.Errorf("CodeByID = %+v, want %+v", *got, *c2)
	}
	sameTime(t, "ExpiresAt", got.ExpiresAt, c2.ExpiresAt)
	sameTime(t, "CreatedAt", got.CreatedAt, c2.CreatedAt)
	if got, err := s.Codes.CodeByID(ctx, c1.ID); err != nil || got.CreatedBy != admin.ID {
		t.Errorf("CodeByID(c1) = %+v, %v; want CreatedBy %d", got, err, admin.ID)
	}
	wantErr(t, "CreateCode(duplicate)", s.Codes.CreateCode(ctx, newCode(c1.Code, 1, at(day))), auth.ErrConflict)
	_, err = s.Codes.CodeByID(ctx, c2.ID+1000)
	wantErr(t, "CodeByID(unknown)", err, auth.ErrNotFound)

	if err := s.Codes.RevokeCode(ctx, c1.ID); err != nil {
		t.Fatalf("RevokeCode: %v", err)
	}
	if got, err := s.Codes.CodeByID(ctx, c1.ID); err != nil || got.IsActive {
		t.Errorf("revoked code = %+v, %v; want inactive", got, err)
	}
	wantErr(t, "RevokeCode(unknown)", s.Codes.RevokeCode(ctx, c2.ID+1000), auth.ErrNotFound)
	for _, tt := range []struct {
		all  bool
		want []int64
	}{{false, []int64{c2.ID}}, {true, []int64{c1.ID, c2.ID}}} {
		got, err := s.Codes.ListCodes(ctx, tt.all)
		if err != nil || !slices.Equal(codeIDs(got), tt.want) {
			t.Errorf("ListCodes(%v) = %v, %v; want %v", tt.all, codeIDs(got), err, tt.want)
		}
	}
}

func timesUsed(t *testing.T, s Stores, id int64) int {
	t.Helper()
	c, err := s.Codes.CodeByID(t.Context(), id)
	if err != nil {
		t.Fatalf("CodeByID: %v", err)
	}
	return c.TimesUsed
}

func testCreateUserWithCode(t *testing.T, s Stores) {
	ctx := t.Context()
	now := at(time.Hour)
	valid := createCode(t, s, newCode("VALID000000000000000000A", 2, at(7*day)))
	single := createCode(t, s, newCode("SINGLE00000000000000000A", 1, at(7*day)))
	expired := createCode(t, s, newCode("EXPIRED0000000000000000A", 5, at(30*time.Minute)))
	edge := createCode(t, s, newCode("EDGE00000000000000000000", 5, now))
	revoked := createCode(t, s, newCode("REVOKED0000000000000000A", 5, at(7*day)))
	if err := s.Codes.RevokeCode(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	domain := newCode("DOMAIN0000000000000000AA", 5, at(7*day))
	domain.AllowedEmailDomain = "example.org"
	createCode(t, s, domain)

	u := newUser("invited")
	rc, err := s.Users.CreateUserWithCode(ctx, u, valid.Code, now)
	if err != nil {
		t.Fatalf("CreateUserWithCode(valid): %v", err)
	}
	if u.ID == 0 || rc == nil || rc.ID != valid.ID || rc.TimesUsed != 1 || rc.MaxUses != 2 {
		t.Errorf("CreateUserWithCode(valid): user ID %d, code %+v; want an ID and the code with TimesUsed 1", u.ID, rc)
	}
	if got, err := s.Users.UserByLogin(ctx, "invited"); err != nil || got.ID != u.ID {
		t.Errorf("invited user not stored: %v, %v", got, err)
	}
	if n := timesUsed(t, s, valid.ID); n != 1 {
		t.Errorf("TimesUsed after one redemption = %d, want 1", n)
	}
	if _, err := s.Users.CreateUserWithCode(ctx, newUser("single1"), single.Code, now); err != nil {
		t.Fatalf("CreateUserWithCode(single): %v", err)
	}

	users := 2
	for _, tt := range []struct {
		name, code, email string
		id                int64
	}{
		{"used up", single.Code, "", single.ID},
		{"expired", expired.Code, "", expired.ID},
		{"expiring now", edge.Code, "", edge.ID},
		{"revoked", revoked.Code, "", revoked.ID},
		{"unknown", "UNKNOWN00000000000000000", "", 0},
		{"empty", "", "", 0},
		{"wrong email domain", domain.Code, "x@example.com", domain.ID},
		{"email subdomain", domain.Code, "x@mail.example.org", domain.ID},
	} {
		var before int
		if tt.id != 0 {
			before = timesUsed(t, s, tt.id)
		}
		nu := newUser("rejected")
		if tt.email != "" {
			nu.Email = tt.email
		}
		rc, err := s.Users.CreateUserWithCode(ctx, nu, tt.code, now)
		wantErr(t, "CreateUserWithCode "+tt.name, err, auth.ErrInvalid)
		if rc != nil {
			t.Errorf("CreateUserWithCode %s returned code %+v", tt.name, rc)
		}
		if tt.id != 0 {
			if after := timesUsed(t, s, tt.id); after != before {
				t.Errorf("CreateUserWithCode %s: TimesUsed %d -> %d", tt.name, before, after)
			}
		}
	}
	if n, err := s.Users.CountUsers(ctx); err != nil || n != users {
		t.Errorf("CountUsers after rejected redemptions = %d, %v; want %d", n, err, users)
	}

	// The domain matches case-insensitively.
	ok := newUser("orgmember")
	ok.Email = "Member@EXAMPLE.org"
	if _, err := s.Users.CreateUserWithCode(ctx, ok, domain.Code, now); err != nil {
		t.Errorf("CreateUserWithCode(right domain): %v", err)
	}
	users++

	// A user that cannot be inserted leaves the code unused.
	dup := newUser("INVITED")
	dup.Email = "fresh@example.com"
	_, err = s.Users.CreateUserWithCode(ctx, dup, valid.Code, now)
	wantErr(t, "CreateUserWithCode(duplicate username)", err, auth.ErrConflict)
	if n := timesUsed(t, s, valid.ID); n != 1 {
		t.Errorf("TimesUsed after a failed insert = %d, want 1 (rolled back)", n)
	}
	if n, err := s.Users.CountUsers(ctx); err != nil || n != users {
		t.Errorf("CountUsers = %d, %v; want %d", n, err, users)
	}
}

func testConcurrentRedemption(t *testing.T, s Stores) {
	ctx := t.Context()
	code := createCode(t, s, newCode("RACE00000000000000000000", 1, at(7*day)))
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Users.CreateUserWithCode(ctx, newUser(fmt.Sprintf("racer%02d", i)), code.Code, at(time.Hour))
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, auth.ErrInvalid):
			t.Errorf("redemption %d: %v, want ErrInvalid", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent redemptions of a single-use code succeeded, want exactly 1", wins, n)
	}
	if users, err := s.Users.CountUsers(ctx); err != nil || users != 1 {
		t.Errorf("CountUsers = %d, %v; want 1", users, err)
	}
	if used := timesUsed(t, s, code.ID); used != 1 {
		t.Errorf("TimesUsed = %d, want 1", used)
	}
}

func keyIDs(ks []auth.APIKey) []int64 {
	ids := make([]int64, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	slices.Sort(ids)
	return ids
}

func testAPIKeys(t *testing.T, s Stores) {
	ctx := t.Context()
	u := createUser(t, s, newUser("keyowner"))
	v := createUser(t, s, newUser("intruder"))
	mk := func(user int64, keyID, hash string, scopes ...auth.Scope) *auth.APIKey {
		t.Helper()
		k := &auth.APIKey{
			KeyID: keyID, UserID: user, Name: "key " + keyID, Prefix: "tldw_" + keyID,
			Hash: hash, Scopes: scopes, CreatedAt: at(0),
		}
		if err := s.APIKeys.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		if k.ID == 0 {
			t.Fatal("CreateAPIKey did not set ID")
		}
		return k
	}
	k1 := &auth.APIKey{
		KeyID: "0123456789ab", UserID: u.ID, Name: "laptop", Prefix: "tldw_0123456789ab",
		Hash: "hash-1", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite}, RateLimitPerMinute: 7,
		ExpiresAt: ptr(at(30 * day)), CreatedAt: at(0),
	}
	if err := s.APIKeys.CreateAPIKey(ctx, k1); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	k2 := mk(u.ID, "bbbbbbbbbbbb", "hash-2", auth.ScopeRead)
	k3 := mk(v.ID, "cccccccccccc", "hash-3", auth.ScopeAdmin)

	got, err := s.APIKeys.APIKeyByKeyID(ctx, k1.KeyID)
	if err != nil {
		t.Fatalf("APIKeyByKeyID: %v", err)
	}
	if got.ID != k1.ID || got.UserID != u.ID || got.Name != "laptop" || got.Prefix != k1.Prefix ||
		got.Hash != "hash-1" || !slices.Equal(got.Scopes, k1.Scopes) || got.RateLimitPerMinute != 7 || got.LastUsedAt != nil || got.RevokedAt != nil {
		t.Errorf("APIKeyByKeyID = %+v\nwant           %+v", *got, *k1)
	}
	sameTimePtr(t, "ExpiresAt", got.ExpiresAt, k1.ExpiresAt)
	sameTime(t, "CreatedAt", got.CreatedAt, k1.CreatedAt)
	if got, err := s.APIKeys.APIKeyByKeyID(ctx, k2.KeyID); err != nil || got.ExpiresAt != nil {
		t.Errorf("APIKeyByKeyID(no expiry) = %+v, %v", got, err)
	}
	_, err = s.APIKeys.APIKeyByKeyID(ctx, "ffffffffffff")
	wantErr(t, "APIKeyByKeyID(unknown)", err, auth.ErrNotFound)
	dup := &auth.APIKey{KeyID: k1.KeyID, UserID: v.ID, Prefix: "tldw_" + k1.KeyID, Hash: "hash-dup", Scopes: []auth.Scope{auth.ScopeRead}, CreatedAt: at(0)}
	wantErr(t, "CreateAPIKey(duplicate key id)", s.APIKeys.CreateAPIKey(ctx, dup), auth.ErrConflict)

	for _, tt := range []struct {
		user int64
		want []int64
	}{{u.ID, []int64{k1.ID, k2.ID}}, {v.ID, []int64{k3.ID}}, {v.ID + 1000, []int64{}}} {
		got, err := s.APIKeys.ListAPIKeys(ctx, tt.user)
		if err != nil || !slices.Equal(keyIDs(got), tt.want) {
			t.Errorf("ListAPIKeys(user %d) = %v, %v; want %v", tt.user, keyIDs(got), err, tt.want)
		}
	}

	// Another user's key is not found.
	wantErr(t, "RevokeAPIKey(other user's key)", s.APIKeys.RevokeAPIKey(ctx, v.ID, k1.ID, at(time.Hour)), auth.ErrNotFound)
	wantErr(t, "ReplaceAPIKeySecret(other user's key)", s.APIKeys.ReplaceAPIKeySecret(ctx, v.ID, k1.ID, "dddddddddddd", "tldw_dddddddddddd", "hash-4"), auth.ErrNotFound)
	if got, err := s.APIKeys.APIKeyByKeyID(ctx, k1.KeyID); err != nil || got.RevokedAt != nil || got.Hash != "hash-1" {
		t.Errorf("key changed by another user's calls: %+v, %v", got, err)
	}
	wantErr(t, "RevokeAPIKey(unknown)", s.APIKeys.RevokeAPIKey(ctx, u.ID, k3.ID+1000, at(time.Hour)), auth.ErrNotFound)
	wantErr(t, "ReplaceAPIKeySecret(unknown)", s.APIKeys.ReplaceAPIKeySecret(ctx, u.ID, k3.ID+1000, "eeeeeeeeeeee", "tldw_eeeeeeeeeeee", "hash-5"), auth.ErrNotFound)

	// Rotation replaces the secret in place.
	if err := s.APIKeys.ReplaceAPIKeySecret(ctx, u.ID, k1.ID, "dddddddddddd", "tldw_dddddddddddd", "hash-4"); err != nil {
		t.Fatalf("ReplaceAPIKeySecret: %v", err)
	}
	_, err = s.APIKeys.APIKeyByKeyID(ctx, k1.KeyID)
	wantErr(t, "APIKeyByKeyID(old key id)", err, auth.ErrNotFound)
	got, err = s.APIKeys.APIKeyByKeyID(ctx, "dddddddddddd")
	if err != nil || got.ID != k1.ID || got.Hash != "hash-4" || got.Prefix != "tldw_dddddddddddd" || got.Name != "laptop" {
		t.Errorf("APIKeyByKeyID(new key id) = %+v, %v", got, err)
	}

	if err := s.APIKeys.TouchAPIKey(ctx, k1.ID, at(time.Hour)); err != nil {
		t.Fatalf("TouchAPIKey: %v", err)
	}
	wantErr(t, "TouchAPIKey(unknown)", s.APIKeys.TouchAPIKey(ctx, k3.ID+1000, at(time.Hour)), auth.ErrNotFound)
	if err := s.APIKeys.RevokeAPIKey(ctx, u.ID, k1.ID, at(2*time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	got, err = s.APIKeys.APIKeyByKeyID(ctx, "dddddddddddd")
	if err != nil {
		t.Fatal(err)
	}
	sameTimePtr(t, "LastUsedAt", got.LastUsedAt, ptr(at(time.Hour)))
	sameTimePtr(t, "RevokedAt", got.RevokedAt, ptr(at(2*time.Hour)))
	if got, err := s.APIKeys.APIKeyByKeyID(ctx, k3.KeyID); err != nil || got.RevokedAt != nil || got.LastUsedAt != nil {
		t.Errorf("other user's key changed: %+v, %v", got, err)
	}
}

func testLockout(t *testing.T, s Stores) {
	ctx := t.Context()
	const (
		window  = 15 * time.Minute
		max     = 3
		lockFor = 15 * time.Minute
	)
	fail := func(key string, now, want time.Time) {
		t.Helper()
		got, err := s.Lockout.Fail(ctx, key, now, window, max, lockFor)
		if err != nil || !got.Equal(want) {
			t.Errorf("Fail(%s, %v) = %v, %v; want %v", key, now, got, err, want)
		}
	}
	locked := func(key string, now, want time.Time) {
		t.Helper()
		got, err := s.Lockout.LockedUntil(ctx, key, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("LockedUntil(%s, %v) = %v, %v; want %v", key, now, got, err, want)
		}
	}
	var zero time.Time
	const alice, ip = "user:alice", "ip:192.0.2.1"

	locked(alice, at(0), zero)
	fail(alice, at(0), zero)
	fail(alice, at(time.Minute), zero)
	locked(alice, at(time.Minute), zero)
	fail(alice, at(2*time.Minute), at(17*time.Minute))
	locked(alice, at(3*time.Minute), at(17*time.Minute))
	locked(alice, at(17*time.Minute+time.Second), zero)
	locked(ip, at(3*time.Minute), zero)   // keys are independent
	fail(alice, at(18*time.Minute), zero) // after the lock, counting starts over
	fail(alice, at(19*time.Minute), zero)
	fail(alice, at(20*time.Minute), at(35*time.Minute))

	if err := s.Lockout.Reset(ctx, alice); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	locked(alice, at(21*time.Minute), zero)
	fail(alice, at(22*time.Minute), zero) // counting starts over
	fail(alice, at(23*time.Minute), zero)
	if err := s.Lockout.Reset(ctx, "user:never-failed"); err != nil {
		t.Errorf("Reset(unknown key): %v", err)
	}

	// Failures older than the window no longer count.
	fail(ip, at(0), zero)
	fail(ip, at(time.Minute), zero)
	fail(ip, at(20*time.Minute), zero)
	fail(ip, at(21*time.Minute), zero)
	fail(ip, at(22*time.Minute), at(37*time.Minute))
	locked(ip, at(23*time.Minute), at(37*time.Minute))

	// A failure during a lock changes nothing: the lock does not grow, and no failure is
	// left over once it ends.
	fail(ip, at(30*time.Minute), at(37*time.Minute))
	fail(ip, at(38*time.Minute), zero)
	fail(ip, at(39*time.Minute), zero)
	fail(ip, at(40*time.Minute), at(55*time.Minute))

	// max 1: the first failure locks.
	const bob, bobClient, bob6 = "user:bob", "user:bob|ip:192.0.2.1", "user:bob|ip:2001:db8:1:2::/64"
	if got, err := s.Lockout.Fail(ctx, bobClient, at(0), window, 1, lockFor); err != nil || !got.Equal(at(lockFor)) {
		t.Errorf("Fail(max 1) = %v, %v; want %v", got, err, at(lockFor))
	}
	fail(bob6, at(0), zero)
	fail(bob, at(0), zero)
	locked(bob, at(time.Minute), zero) // a username's per-client keys are keys of their own

	// Reset clears one key; ResetTree a key and its per-client keys, nothing else.
	const bobby, bobbyClient = "user:bobby", "user:bobby|ip:192.0.2.1"
	for _, k := range []string{bobby, bobbyClient} {
		if _, err := s.Lockout.Fail(ctx, k, at(0), window, 1, lockFor); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Lockout.Reset(ctx, bob); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	locked(bobClient, at(time.Minute), at(lockFor))
	if _, err := s.Lockout.Fail(ctx, bob, at(time.Minute), window, 1, lockFor); err != nil {
		t.Fatal(err)
	}
	if err := s.Lockout.ResetTree(ctx, bob); err != nil {
		t.Fatalf("ResetTree: %v", err)
	}
	locked(bob, at(2*time.Minute), zero)
	locked(bobClient, at(2*time.Minute), zero)
	fail(bob6, at(2*time.Minute), zero) // its earlier failure is gone: this is the first
	fail(bob6, at(3*time.Minute), zero)
	locked(bobby, at(2*time.Minute), at(lockFor))
	locked(bobbyClient, at(2*time.Minute), at(lockFor))
	if err := s.Lockout.ResetTree(ctx, "user:never-failed"); err != nil {
		t.Errorf("ResetTree(unknown key): %v", err)
	}
}

func testSettings(t *testing.T, s Stores) {
	ctx := t.Context()
	get := func(key, want string, wantOK bool) {
		t.Helper()
		v, ok, err := s.Settings.Setting(ctx, key)
		if err != nil || v != want || ok != wantOK {
			t.Errorf("Setting(%q) = %q, %v, %v; want %q, %v", key, v, ok, err, want, wantOK)
		}
	}
	set := func(key, value string) {
		t.Helper()
		if err := s.Settings.SetSetting(ctx, key, value); err != nil {
			t.Fatalf("SetSetting(%q): %v", key, err)
		}
	}
	get("enable_registration", "", false)
	set("enable_registration", "true")
	get("enable_registration", "true", true)
	set("enable_registration", "false")
	get("enable_registration", "false", true)
	get("require_registration_code", "", false)
	set("empty", "")
	get("empty", "", true)
}
