package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// TestPruneAuth: rows that ended before the cutoff go, rows still live or ended after it
// stay, on both dialects.
func TestPruneAuth(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := open(t)
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		old, recent := now.Add(-40*24*time.Hour), now.Add(-time.Hour)
		cutoff := now.Add(-30 * 24 * time.Hour)
		u := &auth.User{Username: "alice", Email: "alice@example.com", PasswordHash: "x", Role: auth.RoleUser, IsActive: true}
		if err := db.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		// Lockout counters: one from long ago, one recent.
		lk := db.Lockout()
		for key, at := range map[string]time.Time{"user:old": old, "user:recent": recent} {
			if _, err := lk.Fail(ctx, key, at, 15*time.Minute, 5, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		// Sessions: revoked long ago, expired long ago, revoked recently, live.
		ss := db.Sessions()
		session := func(name string, created, refreshExp time.Time, revoked *time.Time) int64 {
			s := &auth.Session{UserID: u.ID, RefreshHash: "r-" + name, CreatedAt: created, LastActivity: created,
				ExpiresAt: created.Add(time.Minute), RefreshExpiresAt: refreshExp}
			if err := ss.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			if revoked != nil {
				if err := ss.RevokeSession(ctx, s.ID, "test", *revoked); err != nil {
					t.Fatal(err)
				}
			}
			return s.ID
		}
		oldRevoked := session("old-revoked", old, now.Add(time.Hour), &old)
		oldExpired := session("old-expired", old.Add(-time.Hour), old, nil)
		recentRevoked := session("recent-revoked", old, now.Add(time.Hour), &recent)
		live := session("live", recent, now.Add(time.Hour), nil)
		// API keys: revoked long ago, expired long ago, revoked recently, live.
		ks := db.APIKeys()
		key := func(name string, exp time.Time, revoked *time.Time) int64 {
			k := &auth.APIKey{KeyID: name, UserID: u.ID, Prefix: "tldw_" + name, Hash: "h-" + name,
				Scopes: []auth.Scope{auth.ScopeRead}, ExpiresAt: &exp, CreatedAt: old}
			if err := ks.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if revoked != nil {
				if err := ks.RevokeAPIKey(ctx, u.ID, k.ID, *revoked); err != nil {
					t.Fatal(err)
				}
			}
			return k.ID
		}
		key("oldrevoked01", now.Add(time.Hour), &old)
		key("oldexpired01", old, nil)
		key("recentrevok1", now.Add(time.Hour), &recent)
		key("livekey00001", now.Add(time.Hour), nil)
		// Registration codes: expired long ago, expired recently.
		for i, exp := range []time.Time{old, recent} {
			c := &auth.RegistrationCode{Code: fmt.Sprintf("code-%d", i), MaxUses: 1, ExpiresAt: exp,
				RoleToGrant: auth.RoleUser, IsActive: true, CreatedAt: old}
			if err := db.Codes().CreateCode(ctx, c); err != nil {
				t.Fatal(err)
			}
		}

		n, err := db.PruneAuth(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if n != 6 {
			t.Errorf("PruneAuth removed %d rows, want 6", n)
		}
		if until, err := lk.LockedUntil(ctx, "user:recent", recent); err != nil || !until.IsZero() {
			t.Fatalf("recent counter: %v %v", until, err)
		}
		if _, err := lk.Fail(ctx, "user:recent", recent.Add(time.Second), 15*time.Minute, 2, time.Hour); err != nil {
			t.Fatal(err)
		} else if until, _ := lk.LockedUntil(ctx, "user:recent", recent.Add(2*time.Second)); until.IsZero() {
			t.Error("the recent failure counter was pruned (a second failure did not lock at max 2)")
		}
		for id, want := range map[int64]bool{oldRevoked: false, oldExpired: false, recentRevoked: true, live: true} {
			_, err := ss.SessionByID(ctx, id)
			if got := err == nil; got != want {
				t.Errorf("session %d kept = %v, want %v (%v)", id, got, want, err)
			}
		}
		keys, err := ks.ListAPIKeys(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.KeyID)
		}
		if fmt.Sprint(names) != "[recentrevok1 livekey00001]" {
			t.Errorf("API keys left %v, want the recently revoked and the live one", names)
		}
		codes, err := db.Codes().ListCodes(ctx, true)
		if err != nil || len(codes) != 1 || codes[0].Code != "code-1" {
			t.Errorf("codes left %+v %v, want code-1", codes, err)
		}
	})
}
