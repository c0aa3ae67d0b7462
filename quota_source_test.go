package tldw_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/auth/authtest"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
)

// TestQuotaChangeReachesOtherReplica: an admin lowers and raises a user's storage quota
// through one App; the very next Reserve on another App sharing the database honours it, on
// SQLite and PostgreSQL. The ledger reads the limit from the users row in the reserving
// statement, so there is no second copy for the other replica to miss.
func TestQuotaChangeReachesOtherReplica(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn tldw.DSN) {
		ctx := context.Background()
		media := t.TempDir()
		var apps [2]*tldw.App
		for i := range apps {
			cfg := tldw.DefaultConfig()
			cfg.DataDir = t.TempDir()
			cfg.DatabaseURL = dsn
			cfg.MediaStoragePath = media
			cfg.JWTSecretKey = "replica-shared-secret-0123456789-abcdefghijklmnop"
			cfg.LogLevel = 8
			apps[i] = openApp(t, cfg)
			t.Cleanup(func() { apps[i].Close() })
		}
		ids := adminAndUser(t, apps[0])
		srv := httptest.NewServer(apps[0].Handler())
		t.Cleanup(srv.Close)
		token := loginToken(t, srv.URL, "admin1")
		setQuota := func(body string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/admin/users/"+strconv.FormatInt(ids[1], 10),
				strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT %s = %d", body, resp.StatusCode)
			}
		}
		other := apps[1].Ledger
		subject := strconv.FormatInt(ids[1], 10)
		reserve := func(n int64) error {
			res, err := other.Reserve(ctx, subject, quota.ResourceStorage, n, time.Minute)
			if err == nil {
				err = other.Release(ctx, res)
			}
			return err
		}
		const mib = 1 << 20
		if err := reserve(5 * mib); err != nil {
			t.Fatalf("unlimited user: %v", err)
		}
		setQuota(`{"storage_quota_mb":2}`)
		if err := reserve(2*mib + 1); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("past a lowered quota: %v, want ErrExceeded", err)
		}
		if err := reserve(2 * mib); err != nil {
			t.Fatalf("up to the quota: %v", err)
		}
		setQuota(`{"storage_quota_mb":3}`)
		if err := reserve(3 * mib); err != nil {
			t.Fatalf("after raising the quota: %v", err)
		}
		setQuota(`{"storage_quota_mb":0}`)
		if err := reserve(1); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("quota 0: %v, want ErrExceeded", err)
		}
		if us, err := other.Usage(ctx, subject); err != nil || len(us) != 1 || us[0].Limit != 0 {
			t.Fatalf("Usage on the other replica = %+v, %v; want limit 0", us, err)
		}
	})
}

// eachDatabase runs fn on a SQLite file and on a fresh PostgreSQL database; every App of
// one run given dsn shares that database.
func eachDatabase(t *testing.T, fn func(t *testing.T, dsn tldw.DSN)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, tldw.DSN("sqlite:"+filepath.Join(t.TempDir(), "tldw.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, tldw.DSN(testenv.Postgres(t))) })
}

// TestOpenKeepsEmbedderStores: every store field an embedder sets before Open stays exactly
// as set (Open fills only nil fields; it wraps none of them).
func TestOpenKeepsEmbedderStores(t *testing.T) {
	cfg := tldw.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = 8
	st := authtest.NewMemory()
	ledger := quotatest.NewMemory()
	app := tldw.New(cfg)
	app.Users, app.Sessions, app.Codes, app.APIKeys = st.Users, st.Sessions, st.Codes, st.APIKeys
	app.Lockout, app.Settings, app.Ledger = st.Lockout, st.Settings, ledger
	if err := app.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	for name, ok := range map[string]bool{
		"Users": app.Users == auth.UserStore(st.Users), "Sessions": app.Sessions == auth.SessionStore(st.Sessions),
		"Codes": app.Codes == auth.CodeStore(st.Codes), "APIKeys": app.APIKeys == auth.APIKeyStore(st.APIKeys),
		"Lockout": app.Lockout == auth.LockoutStore(st.Lockout), "Settings": app.Settings == auth.SettingsStore(st.Settings),
		"Ledger": app.Ledger == quota.Ledger(ledger),
	} {
		if !ok {
			t.Errorf("Open replaced App.%s", name)
		}
	}
	// The accounts service works on the embedder's store.
	u, err := app.Accounts().CreateUser(context.Background(), auth.SystemPrincipal(), auth.NewUser{
		Username: "embedded", Email: "embedded@example.com", Password: "Brave-Falcon-92!", Role: auth.RoleUser}, auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Users.UserByID(context.Background(), u.ID); err != nil || got.Username != "embedded" {
		t.Fatalf("embedder's store: %+v, %v", got, err)
	}
}

// testPassword is the password of the accounts adminAndUser creates.
const testPassword = "Brave-Falcon-92!"

// adminAndUser creates the accounts admin1 (an admin) and user1 (a user) with testPassword
// and returns their ids in that order.
func adminAndUser(t *testing.T, app *tldw.App) []int64 {
	t.Helper()
	var ids []int64
	for _, r := range []auth.Role{auth.RoleAdmin, auth.RoleUser} {
		u, err := app.Accounts().CreateUser(context.Background(), auth.SystemPrincipal(), auth.NewUser{
			Username: string(r) + "1", Email: string(r) + "1@example.com", Password: testPassword, Role: r}, auth.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	return ids
}

// loginToken logs username in with testPassword at the server at base and returns the
// access token.
func loginToken(t *testing.T, base, username string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v1/auth/login", url.Values{"username": {username}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %d %v", username, resp.StatusCode, err)
	}
	return tok.AccessToken
}
