package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/auth/authtest"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// authMigrated opens url and applies every migration.
func authMigrated(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db := open(t, url, sqlstore.Options{})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func authStores(db *sqlstore.DB) authtest.Stores {
	return authtest.Stores{
		Users: db.Users(), Sessions: db.Sessions(), Codes: db.Codes(),
		APIKeys: db.APIKeys(), Lockout: db.Lockout(), Settings: db.Settings(),
	}
}

// dialects runs fn against a fresh migrated SQLite file and a fresh migrated
// PostgreSQL database.
func dialects(t *testing.T, fn func(t *testing.T, open func(t *testing.T) *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) *sqlstore.DB {
			return authMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "auth.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) *sqlstore.DB { return authMigrated(t, testenv.Postgres(t)) })
	})
}

func TestAuthStores(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		authtest.TestStores(t, func(t *testing.T) authtest.Stores { return authStores(open(t)) })
	})
}

// TestAuthDeploymentGuideSQL runs the deployment guide's index statement,
// which must work as written after migration.
func TestAuthDeploymentGuideSQL(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		db := open(t)
		if _, err := db.Bun().ExecContext(context.Background(), "CREATE INDEX idx_sessions_token ON sessions(token_hash);"); err != nil {
			t.Errorf("guide SQL failed: %v", err)
		}
	})
}

// TestAuthSchemaGuards checks what the database itself enforces beyond the
// store API: is_active mirrors revoked_at, and deleting a user cascades to
// its sessions, keys and history.
func TestAuthSchemaGuards(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := open(t)
		u := &auth.User{Username: "gone", Email: "gone@example.com", PasswordHash: "h", Role: auth.RoleUser, IsActive: true}
		if err := db.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		s := &auth.Session{UserID: u.ID, RefreshHash: "r"}
		if err := db.Sessions().CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Bun().ExecContext(ctx, "UPDATE sessions SET is_active = FALSE WHERE id = ?", s.ID); err == nil {
			t.Error("is_active = false with revoked_at NULL was accepted")
		}
		if err := db.Sessions().RevokeSession(ctx, s.ID, "x", s.CreatedAt); err != nil {
			t.Fatal(err)
		}
		var active bool
		if err := db.Bun().QueryRowContext(ctx, "SELECT is_active FROM sessions WHERE id = ?", s.ID).Scan(&active); err != nil || active {
			t.Errorf("is_active after revoke = %v, %v; want false", active, err)
		}
		if err := db.Users().AddPasswordHistory(ctx, u.ID, "old", 5); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Bun().ExecContext(ctx, "DELETE FROM users WHERE id = ?", u.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.Sessions().SessionByID(ctx, s.ID)
		if !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("session of a deleted user: %v, want ErrNotFound", err)
		}
		if h, err := db.Users().PasswordHistory(ctx, u.ID, 5); err != nil || len(h) != 0 {
			t.Errorf("password history of a deleted user = %v, %v", h, err)
		}
		// A session for an unknown user is ErrNotFound, not a driver error.
		err = db.Sessions().CreateSession(ctx, &auth.Session{UserID: u.ID, RefreshHash: "r2"})
		if !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("CreateSession(unknown user) = %v, want ErrNotFound", err)
		}
	})
}

// TestLastAdminAcrossStores: two processes (two connection pools on one database) remove
// each other's admin at the same time; the database keeps one active admin every round.
func TestLastAdminAcrossStores(t *testing.T) {
	run := func(t *testing.T, url string) {
		x := authMigrated(t, url)
		y := authMigrated(t, url)
		ctx := context.Background()
		var ids []int64
		for _, name := range []string{"admin-a", "admin-b"} {
			u := &auth.User{Username: name, Email: name + "@example.com", PasswordHash: "h", Role: auth.RoleAdmin, IsActive: true}
			if err := x.Users().CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		authtest.ConcurrentDemotions(t, x.Users(), y.Users(), ids[0], ids[1], 100)
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite:"+filepath.Join(t.TempDir(), "auth.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, testenv.Postgres(t)) })
}
