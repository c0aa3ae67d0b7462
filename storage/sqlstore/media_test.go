package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// mediaUser creates a user who may own media items.
func mediaUser(t testing.TB, db *sqlstore.DB, name string) int64 {
	t.Helper()
	u := &auth.User{Username: name, Email: name + "@example.com", PasswordHash: "h", Role: auth.RoleUser, IsActive: true}
	if err := db.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestMediaStore runs the conformance suite on one database per dialect; each subtest gets
// fresh users, which is all the suite needs (isolation is per user).
func TestMediaStore(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		db, n := open(t), 0
		mediatest.TestStore(t, func(t *testing.T) mediatest.Fixture {
			n++
			return mediatest.Fixture{Store: db.Media(),
				Alice: mediaUser(t, db, fmt.Sprintf("alice%d", n)), Bob: mediaUser(t, db, fmt.Sprintf("bob%d", n))}
		})
	})
}

// TestMediaDeploymentGuideSQL runs the deployment guide's media index statement, which must
// work as written after migration.
func TestMediaDeploymentGuideSQL(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		db := open(t)
		if _, err := db.Bun().ExecContext(context.Background(),
			"CREATE INDEX idx_media_user_created ON media_entries(user_id, created_at DESC);"); err != nil {
			t.Errorf("guide SQL failed: %v", err)
		}
	})
}

// TestMediaSchemaGuards checks what the database enforces beyond the store: an unknown user
// is rejected, trash flag and date agree, and deleting a user removes their items.
func TestMediaSchemaGuards(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := open(t)
		it := func(u int64) *media.Item {
			return &media.Item{UserID: u, Title: "t", MediaType: media.TypeAudio, ContentHash: fmt.Sprintf("h%d", u),
				BlobKey: fmt.Sprintf("%d/k", u), Status: media.StatusStored, Size: 3, Keywords: []string{"k"}}
		}
		if err := db.Media().Create(ctx, it(4242)); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("Create for an unknown user: %v, want ErrInvalid", err)
		}
		u := mediaUser(t, db, "gone")
		x := it(u)
		if err := db.Media().Create(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Bun().ExecContext(ctx, "UPDATE media_entries SET is_trash = TRUE WHERE id = ?", x.ID); err == nil {
			t.Error("is_trash without trash_date was accepted")
		}
		if _, err := db.Bun().ExecContext(ctx, "DELETE FROM users WHERE id = ?", u); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.Bun().NewRaw("SELECT count(*) FROM media_keywords").Scan(ctx, &n); err != nil || n != 0 {
			t.Errorf("media_keywords rows after the user was deleted: %d, %v", n, err)
		}
		if _, err := db.Media().ByIDAny(ctx, x.ID); !errors.Is(err, media.ErrNotFound) {
			t.Errorf("item after its user was deleted: %v", err)
		}
	})
}
