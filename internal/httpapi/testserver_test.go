package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/auth/authtest"
)

// This file provides newTestServer: a Server over a real auth.Service with in-memory stores,
// a controllable clock, a memory audit sink and one ready-made account per role, so HTTP
// tests of any domain can send requests as "anonymous", "user", "moderator", "service" or
// "admin" with one call.

// Caller kinds, in the order tests iterate them.
const (
	callerAnonymous = "anonymous"
	callerUser      = "user"
	callerModerator = "moderator"
	callerService   = "service"
	callerAdmin     = "admin"
)

// callerKinds lists every caller kind.
var callerKinds = []string{callerAnonymous, callerUser, callerModerator, callerService, callerAdmin}

// testPassword is the password of every ready-made account; it satisfies the default policy.
const testPassword = "Correct-Horse-7491!"

// testClock is the adjustable clock shared by the server, the auth service, its tokens and
// the stores. Safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the current test time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testAccount is a ready-made account and its credential.
type testAccount struct {
	User     *auth.User
	Password string
	Access   string // access JWT from a login (every role; the service account logs in too)
	Refresh  string // refresh token of that login
	Session  int64  // session id of that login
	APIKey   string // service only: a personal API key with scopes read and write
	APIKeyID int64
}

// testServerConfig is what newTestServer builds from; options passed to newTestServer
// change it before the server is built.
type testServerConfig struct {
	HTTP  Options      // Auth is set by newTestServer
	Auth  auth.Options // stores, hasher, tokens, audit and clock are preset
	Extra []route      // extra routes appended to the table (give them rules if they are walked)
}

// testServer is a Server with its collaborators exposed for assertions.
type testServer struct {
	*Server
	Auth     *auth.Service
	Hasher   *auth.Hasher // the service's hasher, for accounts a test adds to Stores
	Stores   *authtest.MemoryStores
	Audit    *audittest.Memory // both Options.Audit and the auth service's sink; emptied after setup
	Clock    *testClock
	Logs     *syncBuffer
	Accounts map[string]*testAccount // by caller kind except anonymous
	tb       testing.TB              // the test that built the server (helpers without a t validate responses for it)
}

// newTestServer builds a test server: argon2 with tiny parameters, HS256 tokens, open
// registration (no code), the clock at fixedNow, and the accounts "alice" (user),
// "molly" (moderator), "svcbot" (service) and "root" (admin), created in that order, all
// with testPassword, each logged in once; the service account also holds an API key with
// scopes read and write, which is its credential in call. opts adjust the configuration
// first.
func newTestServer(t testing.TB, opts ...func(*testServerConfig)) *testServer {
	t.Helper()
	clock := &testClock{t: fixedNow}
	stores := authtest.NewMemory()
	stores.Users.Now = clock.Now
	mem := &audittest.Memory{}
	logs := &syncBuffer{}
	tokens, err := auth.NewTokens(auth.KeyConfig{Secret: []byte("test-signing-secret-0123456789abcdef"), Now: clock.Now})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	cfg := testServerConfig{
		HTTP: Options{
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Now:    clock.Now,
			Audit:  mem,
		},
		Auth: auth.Options{
			Users: stores.Users, Sessions: stores.Sessions, Codes: stores.Codes, APIKeys: stores.APIKeys,
			Lockout: stores.Lockout, Settings: stores.Settings, Audit: mem,
			Hasher:             auth.NewHasher(auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 8, time.Second),
			Tokens:             tokens,
			Policy:             auth.DefaultPolicy(),
			Now:                clock.Now,
			RotateRefresh:      true,
			EnableRegistration: true,
			APIKeyPepper:       []byte("test-api-key-pepper-0123456789abcdef"),
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := auth.NewService(cfg.Auth)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	cfg.HTTP.Auth = svc
	srv, err := newServer(cfg.HTTP, cfg.Extra...)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	ts := &testServer{Server: srv, Auth: svc, Hasher: cfg.Auth.Hasher, Stores: stores, Audit: mem, Clock: clock, Logs: logs,
		Accounts: map[string]*testAccount{}, tb: t}
	for _, a := range []struct {
		kind, name string
		role       auth.Role
	}{
		{callerUser, "alice", auth.RoleUser},
		{callerModerator, "molly", auth.RoleModerator},
		{callerService, "svcbot", auth.RoleService},
		{callerAdmin, "root", auth.RoleAdmin},
	} {
		ts.Accounts[a.kind] = ts.addAccount(t, a.name, a.role)
	}
	svcAcct := ts.Accounts[callerService]
	key, full := ts.createKey(t, svcAcct, auth.ScopeRead, auth.ScopeWrite)
	svcAcct.APIKey, svcAcct.APIKeyID = full, key.ID
	mem.Reset()
	return ts
}

// addAccount creates an active, verified account with testPassword and logs it in.
func (ts *testServer) addAccount(t testing.TB, name string, role auth.Role) *testAccount {
	t.Helper()
	ctx := context.Background()
	hash, err := ts.Hasher.Hash(ctx, testPassword)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	u := &auth.User{Username: name, Email: name + "@example.com", PasswordHash: hash, Role: role,
		IsActive: true, IsVerified: true}
	if err := ts.Stores.Users.CreateUser(ctx, u); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	pair, err := ts.Auth.Login(ctx, name, testPassword, auth.Meta{IP: "192.0.2.1", UserAgent: "setup"})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return &testAccount{User: u, Password: testPassword, Access: pair.AccessToken, Refresh: pair.RefreshToken,
		Session: pair.SessionID}
}

// createKey creates an API key for a through the service, authenticated by a's access token.
func (ts *testServer) createKey(t testing.TB, a *testAccount, scopes ...auth.Scope) (*auth.APIKey, string) {
	t.Helper()
	ctx := context.Background()
	p, err := ts.Auth.Authenticate(ctx, a.Access, "", auth.Meta{})
	if err != nil {
		t.Fatalf("authenticate %s: %v", a.User.Username, err)
	}
	k, full, err := ts.Auth.CreateAPIKey(ctx, p, "test key", scopes, 0, auth.Meta{})
	if err != nil {
		t.Fatalf("create API key: %v", err)
	}
	return k, full
}

// credential returns the headers that authenticate caller kind: a Bearer access token, or
// X-API-KEY for the service account; none for anonymous.
func (ts *testServer) credential(kind string) map[string]string {
	a := ts.Accounts[kind]
	switch {
	case a == nil:
		return map[string]string{}
	case a.APIKey != "":
		return map[string]string{"X-API-KEY": a.APIKey}
	default:
		return map[string]string{"Authorization": "Bearer " + a.Access}
	}
}

// id returns the user id of caller kind as a string ("0" for anonymous).
func (ts *testServer) id(kind string) string {
	if a := ts.Accounts[kind]; a != nil {
		return strconv.FormatInt(a.User.ID, 10)
	}
	return "0"
}

// call sends one request as caller kind. A non-empty body gets Content-Type
// application/json unless header sets one; header entries override the credential.
func (ts *testServer) call(t testing.TB, kind, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	h := ts.credential(kind)
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	for k, v := range header {
		h[k] = v
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	rec := httptest.NewRecorder()
	serveChecked(t, ts.Server, rec, req)
	return rec
}

// withHTTP returns an option that changes the server Options.
func withHTTP(f func(*Options)) func(*testServerConfig) {
	return func(c *testServerConfig) { f(&c.HTTP) }
}

// withAuth returns an option that changes the auth service Options.
func withAuth(f func(*auth.Options)) func(*testServerConfig) {
	return func(c *testServerConfig) { f(&c.Auth) }
}
