package auth_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/auth/authtest"
)

// Passwords that satisfy the default policy.
const (
	pwAlice = "Correct-Horse7Battery"
	pwNew   = "Purple!Monkey42Dish"
	pwNew2  = "Quiet#River58Stone"
	pwNew3  = "Velvet%Lamp39Orchid"
	pwAdmin = "Granite&Owl64Meadow"
)

var ctx = context.Background()

// meta is the request metadata every test call carries; audits must record it.
var meta = auth.Meta{IP: "203.0.113.7", UserAgent: "test-agent/1.0", RequestID: "req-1", Method: "POST", Path: "/x"}

// metaIP is meta from another client address.
func metaIP(ip string) auth.Meta { m := meta; m.IP = ip; return m }

// fakeClock is a manually advanced clock shared by the service and its token issuer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	clock *fakeClock
	st    *authtest.MemoryStores
	sink  *audittest.Memory
	opts  auth.Options
	svc   *auth.Service
}

func testHasher(passes uint32) *auth.Hasher {
	return auth.NewHasher(auth.Argon2Params{MemoryKiB: 1024, Time: passes}, 4, 5*time.Second)
}

// newEnv returns a service over fresh memory stores with open registration, rotation on and
// a fixed clock; mod adjusts the options before NewService.
func newEnv(t testing.TB, mod func(*auth.Options)) *env {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st := authtest.NewMemory()
	tokens, err := auth.NewTokens(auth.KeyConfig{Secret: []byte(strings.Repeat("s3cret-", 6)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sink := &audittest.Memory{}
	o := auth.Options{
		Users: st.Users, Sessions: st.Sessions, Codes: st.Codes, APIKeys: st.APIKeys,
		Lockout: st.Lockout, Settings: st.Settings, Audit: sink,
		Hasher: testHasher(1), Tokens: tokens, Now: clk.Now,
		RotateRefresh: true, EnableRegistration: true,
		APIKeyPepper: []byte("pepper-for-tests-0123456789abcdef"),
	}
	if mod != nil {
		mod(&o)
	}
	svc, err := auth.NewService(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clk, st: st, sink: sink, opts: o, svc: svc}
}

// user creates an active account through the system principal.
func (e *env) user(name string, role auth.Role) *auth.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(ctx, auth.SystemPrincipal(), auth.NewUser{
		Username: name, Email: name + "@example.com", Password: pwAlice, Role: role,
	}, meta)
	if err != nil {
		e.t.Fatalf("creating %s: %v", name, err)
	}
	return u
}

// login logs name in with pwAlice and returns the pair.
func (e *env) login(name string) *auth.TokenPair {
	e.t.Helper()
	p, err := e.svc.Login(ctx, name, pwAlice, meta)
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	return p
}

// principal authenticates an access token.
func (e *env) principal(access string) *auth.Principal {
	e.t.Helper()
	p, err := e.svc.Authenticate(ctx, access, "", meta)
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// wantUnauth checks that access no longer authenticates.
func (e *env) wantUnauth(access string) {
	e.t.Helper()
	if _, err := e.svc.Authenticate(ctx, access, "", meta); !errors.Is(err, auth.ErrUnauthenticated) {
		e.t.Fatalf("Authenticate = %v, want ErrUnauthenticated", err)
	}
}

// lastEvent returns the newest audit event with action and checks its request metadata.
func (e *env) lastEvent(action string) audit.Event {
	e.t.Helper()
	evs := e.sink.Find(action)
	if len(evs) == 0 {
		e.t.Fatalf("no %s audit event; have %v", action, e.sink.Actions())
	}
	ev := evs[len(evs)-1]
	if ev.IP == "" || ev.UserAgent != meta.UserAgent || ev.RequestID != meta.RequestID {
		e.t.Errorf("%s event lacks request metadata: %+v", action, ev)
	}
	return ev
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func TestNewServiceValidation(t *testing.T) {
	if _, err := auth.NewService(auth.Options{}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("empty options: %v, want ErrInvalid", err)
	} else if !strings.Contains(err.Error(), "Users is required") || !strings.Contains(err.Error(), "Tokens is required") {
		t.Errorf("error should list every missing part: %v", err)
	}
	e := newEnv(t, nil)
	o := e.opts
	o.SingleUser, o.SingleUserAPIKey = true, "short"
	if _, err := auth.NewService(o); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("short single-user key: %v, want ErrInvalid", err)
	}
	o = e.opts
	o.DefaultRole = "root"
	if _, err := auth.NewService(o); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("unknown default role: %v, want ErrInvalid", err)
	}
}

func TestLoginSuccess(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	pair := e.login("ALICE") // case-insensitive
	if pair.TokenType != "bearer" || pair.ExpiresIn != 1800 || pair.SessionID == 0 || pair.RefreshToken == "" {
		t.Errorf("pair = %+v", pair)
	}
	if pair.User == nil || pair.User.ID != u.ID || pair.User.PasswordHash != "" {
		t.Errorf("pair.User = %+v, want alice without hash", pair.User)
	}
	p := e.principal(pair.AccessToken)
	if p.UserID != u.ID || p.Username != "alice" || p.Role != auth.RoleUser || p.SessionID != pair.SessionID || p.Via != "jwt" || p.Scopes != nil {
		t.Errorf("principal = %+v", p)
	}
	if _, err := e.svc.Login(ctx, "alice@EXAMPLE.com", pwAlice, meta); err != nil {
		t.Errorf("login by email: %v", err)
	}
	ev := e.lastEvent(audit.LoginSuccess)
	if ev.UserID != u.ID || !ev.Success || ev.IP != meta.IP {
		t.Errorf("login_success event = %+v", ev)
	}
	stored, _ := e.st.Users.UserByID(ctx, u.ID)
	if stored.LastLogin == nil || !stored.LastLogin.Equal(e.clock.Now()) {
		t.Errorf("LastLogin = %v, want %v", stored.LastLogin, e.clock.Now())
	}
	sess, _ := e.st.Sessions.SessionByID(ctx, pair.SessionID)
	if sess.IPAddress != meta.IP || sess.UserAgent != meta.UserAgent || sess.RefreshHash != auth.HashToken(pair.RefreshToken) {
		t.Errorf("session = %+v", sess)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	_, errWrong := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100.1"))
	_, errUnknown := e.svc.Login(ctx, "mallory", "Wrong-Password9x", metaIP("198.51.100.2"))
	wantErr(t, errWrong, auth.ErrUnauthenticated)
	wantErr(t, errUnknown, auth.ErrUnauthenticated)
	if errWrong.Error() != errUnknown.Error() {
		t.Errorf("wrong password %q and unknown user %q differ", errWrong, errUnknown)
	}
	fails := e.sink.Find(audit.LoginFailed)
	if len(fails) != 2 {
		t.Fatalf("login_failed events = %d, want 2", len(fails))
	}
	if fails[0].UserID != u.ID || fails[1].UserID != 0 || fails[1].Username != "mallory" || fails[1].IP != "198.51.100.2" {
		t.Errorf("login_failed events = %+v", fails)
	}
	for _, c := range []struct{ name, login, password string }{
		{"empty password", "alice", ""},
		{"overlong password", "alice", strings.Repeat("A", auth.MaxPasswordBytes+1)},
		{"malformed identifier", "a", pwAlice},
		{"empty identifier", "", pwAlice},
	} {
		if _, err := e.svc.Login(ctx, c.login, c.password, metaIP("192.0.2.1")); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", c.name, err)
		}
	}
}

// TestLoginBusyLooksAlike: with every hashing slot taken, an unknown user gets the same
// ErrBusy as a known one (not a quick 401 that tells them apart).
func TestLoginBusyLooksAlike(t *testing.T) {
	h := auth.NewHasher(auth.Argon2Params{MemoryKiB: 1024, Time: 1}, 1, time.Nanosecond)
	e := newEnv(t, func(o *auth.Options) { o.Hasher = h })
	e.user("alice", auth.RoleUser)
	release := auth.HoldHashingSlots(h)
	defer release()
	_, errKnown := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100.1"))
	_, errUnknown := e.svc.Login(ctx, "mallory", "Wrong-Password9x", metaIP("198.51.100.2"))
	wantErr(t, errKnown, auth.ErrBusy)
	wantErr(t, errUnknown, auth.ErrBusy)
	if n := len(e.sink.Find(audit.LoginFailed)); n != 0 {
		t.Errorf("a busy server counted %d failed logins", n)
	}
}

func TestLoginInactive(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	off := false
	if _, err := e.svc.UpdateUser(ctx, auth.SystemPrincipal(), u.ID, auth.UserUpdate{IsActive: &off}, meta); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Login(ctx, "alice", pwAlice, meta)
	wantErr(t, err, auth.ErrInactive)
	_, err = e.svc.Login(ctx, "alice", "Wrong-Password9x", meta)
	wantErr(t, err, auth.ErrUnauthenticated)
	if errors.Is(err, auth.ErrInactive) {
		t.Error("a wrong password must not reveal that the account is inactive")
	}
}

// TestLockoutByUsername: failures from many clients lock the username only softly — a
// client that has not failed still gets in with the right password, each further failure
// locks out the client that made it — and one client's failures lock that client out hard.
func TestLockoutByUsername(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	start := e.clock.Now()
	for i := range 5 {
		_, err := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100."+strconv.Itoa(i+1)))
		wantErr(t, err, auth.ErrUnauthenticated) // no client has failed 5 times
	}
	ev := e.lastEvent(audit.AccountLocked)
	if ev.Details["key"] != "user" {
		t.Errorf("account_locked details = %v", ev.Details)
	}
	// The owner, who has not failed, gets in: 5 bad logins cannot keep an account locked.
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("192.0.2.99")); err != nil {
		t.Fatalf("correct password from a clean client while the username is under attack: %v", err)
	}
	// Under attack again: one more failure locks the failing client out of the account...
	for i := range 5 {
		_, _ = e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100."+strconv.Itoa(i+1)))
	}
	_, err := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100.77"))
	var le *auth.LockedError
	if !errors.As(err, &le) || !le.Until.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("failure while the username is locked: %v, want LockedError until %v", err, start.Add(15*time.Minute))
	}
	if ev := e.lastEvent(audit.AccountLocked); ev.Details["key"] != "user_ip" {
		t.Errorf("account_locked details = %v, want key user_ip", ev.Details)
	}
	// ... even with the right password, while a clean client still gets in.
	e.clock.Advance(14 * time.Minute)
	_, err = e.svc.Login(ctx, "alice", pwAlice, metaIP("198.51.100.77"))
	if !errors.As(err, &le) || le.Until.Sub(e.clock.Now()) != time.Minute {
		t.Fatalf("login from the locked client: %v, want LockedError with 1m left", err)
	}
	if ev := e.lastEvent(audit.LoginFailed); ev.Details["reason"] != "locked" {
		t.Errorf("login_failed reason = %v, want locked", ev.Details["reason"])
	}
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("192.0.2.99")); err != nil {
		t.Fatalf("login from a clean client: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("198.51.100.77")); err != nil {
		t.Fatalf("login after the lock ended: %v", err)
	}

	// One client's own failures lock it out of the account (hard), not other clients.
	for i := range 5 {
		_, err := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100.200"))
		if i == 4 {
			wantErr(t, err, auth.ErrLocked)
		}
	}
	_, err = e.svc.Login(ctx, "alice", pwAlice, metaIP("198.51.100.200"))
	wantErr(t, err, auth.ErrLocked)
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("192.0.2.99")); err != nil {
		t.Fatalf("another client must not be locked: %v", err)
	}
}

func TestLockoutByIP(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	attacker := metaIP("198.51.100.66")
	for i := range 5 {
		_, err := e.svc.Login(ctx, "ghost"+string(rune('a'+i)), "Wrong-Password9x", attacker)
		if i == 4 {
			wantErr(t, err, auth.ErrLocked)
		}
	}
	_, err := e.svc.Login(ctx, "alice", pwAlice, attacker)
	wantErr(t, err, auth.ErrLocked)
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("192.0.2.1")); err != nil {
		t.Fatalf("another IP must not be locked: %v", err)
	}
}

// TestLockoutIPv6Bucket: addresses of one IPv6 /64 count as one client.
func TestLockoutIPv6Bucket(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	for i := range 5 {
		_, err := e.svc.Login(ctx, "ghost"+strconv.Itoa(i), "Wrong-Password9x", metaIP("2001:db8:1:2::"+strconv.Itoa(i+1)))
		if i == 4 {
			wantErr(t, err, auth.ErrLocked)
		}
	}
	_, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("2001:db8:1:2:ffff::9"))
	wantErr(t, err, auth.ErrLocked)
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("2001:db8:1:3::1")); err != nil {
		t.Fatalf("the next /64 must not be locked: %v", err)
	}
}

func TestClientBucket(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::1%eth0": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::":  "2001:db8:1:2::/64",
		"not an address":       "not an address",
		"":                     "",
	} {
		if got := auth.ClientBucket(in); got != want {
			t.Errorf("ClientBucket(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLockoutResetOnSuccess: a success resets the username's counters only. Interleaving
// logins to one's own account does not reset the client's counter, so spraying other
// usernames stays limited to MaxLoginAttempts failures per client.
func TestLockoutResetOnSuccess(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", auth.RoleUser)
	e.user("mallory", auth.RoleUser)
	sprayer := metaIP("198.51.100.9")
	for i := range 4 {
		_, err := e.svc.Login(ctx, "alice", "Wrong-Password9x", meta)
		wantErr(t, err, auth.ErrUnauthenticated)
		_, err = e.svc.Login(ctx, "victim"+strconv.Itoa(i), "Wrong-Password9x", sprayer)
		wantErr(t, err, auth.ErrUnauthenticated)
		if _, err := e.svc.Login(ctx, "mallory", pwAlice, sprayer); err != nil {
			t.Fatalf("own login: %v", err)
		}
	}
	_, err := e.svc.Login(ctx, "victim9", "Wrong-Password9x", sprayer)
	wantErr(t, err, auth.ErrLocked) // the 5th failure from this client, successes in between
	e.login("alice")
	for range 4 {
		_, err := e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("192.0.2.50"))
		wantErr(t, err, auth.ErrUnauthenticated) // alice's own count started afresh
	}
}

func TestUnlock(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	e.user("mod", auth.RoleModerator)
	for i := range 5 {
		_, _ = e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100."+strconv.Itoa(i+1)))
	}
	_, _ = e.svc.Login(ctx, "alice", "Wrong-Password9x", metaIP("198.51.100.1")) // locks this client out of alice
	_, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("198.51.100.1"))
	wantErr(t, err, auth.ErrLocked)

	modP := e.principal(e.login("mod").AccessToken)
	wantErr(t, e.svc.Unlock(ctx, &auth.Principal{UserID: 99, Role: auth.RoleUser}, u.ID, meta), auth.ErrForbidden)
	if err := e.svc.Unlock(ctx, modP, u.ID, meta); err != nil {
		t.Fatalf("moderator unlock: %v", err)
	}
	if _, err := e.svc.Login(ctx, "alice", pwAlice, metaIP("198.51.100.1")); err != nil {
		t.Fatalf("login after unlock: %v", err)
	}
	if ev := e.lastEvent(audit.AccountUnlocked); ev.TargetID != "1" || ev.Username != "mod" {
		t.Errorf("account_unlocked = %+v", ev)
	}
}

func TestRehashOnLogin(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	before, _ := e.st.Users.UserByID(ctx, u.ID)
	if !strings.Contains(before.PasswordHash, ",t=1,") {
		t.Fatalf("hash %q, want t=1", before.PasswordHash)
	}
	o := e.opts
	o.Hasher = testHasher(2)
	svc2, err := auth.NewService(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Login(ctx, "alice", pwAlice, meta); err != nil {
		t.Fatal(err)
	}
	after, _ := e.st.Users.UserByID(ctx, u.ID)
	if !strings.Contains(after.PasswordHash, ",t=2,") {
		t.Fatalf("hash after login %q, want the new parameters", after.PasswordHash)
	}
	if _, err := svc2.Login(ctx, "alice", pwAlice, meta); err != nil {
		t.Fatalf("login with the rehashed password: %v", err)
	}
}

func TestMustChangePasswordDoesNotBlockLogin(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", auth.RoleUser)
	if err := e.svc.ResetPassword(ctx, auth.SystemPrincipal(), u.ID, pwNew, meta); err != nil {
		t.Fatal(err)
	}
	pair, err := e.svc.Login(ctx, "alice", pwNew, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !pair.User.MustChangePassword {
		t.Error("MustChangePassword should be reported after a reset")
	}
	if err := e.svc.ChangePassword(ctx, e.principal(pair.AccessToken), pwNew, pwNew2, meta); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.st.Users.UserByID(ctx, u.ID); got.MustChangePassword {
		t.Error("changing the password must clear MustChangePassword")
	}
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

func ptr[T any](v T) *T { return &v }
