package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

const quotaMiB = 1 << 20

var quotaBase = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// quotaDialects runs fn on a fresh SQLite file database and a fresh PostgreSQL database.
func quotaDialects(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "quota.db")))
	})
	t.Run("postgres", func(t *testing.T) { fn(t, migrated(t, testenv.Postgres(t))) })
}

func TestLedgerConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		quotatest.TestLedger(t, func(t *testing.T, now func() time.Time) quota.Ledger {
			db := migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "quota.db"))
			return db.Ledger(sqlstore.LedgerOptions{Now: now})
		})
	})
	t.Run("sqlite-memory", func(t *testing.T) {
		quotatest.TestLedger(t, func(t *testing.T, now func() time.Time) quota.Ledger {
			return migrated(t, "sqlite::memory:").Ledger(sqlstore.LedgerOptions{Now: now})
		})
	})
	t.Run("postgres", func(t *testing.T) {
		quotatest.TestLedger(t, func(t *testing.T, now func() time.Time) quota.Ledger {
			return migrated(t, testenv.Postgres(t)).Ledger(sqlstore.LedgerOptions{Now: now})
		})
	})
}

// quotaUser creates a user with the given quota (nil = unlimited) and returns its subject.
func quotaUser(t *testing.T, db *sqlstore.DB, name string, quotaMB *int64) string {
	t.Helper()
	u := &auth.User{Username: name, Email: name + "@example.com", PasswordHash: "x",
		Role: auth.RoleUser, IsActive: true, StorageQuotaMB: quotaMB}
	if err := db.Users().CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return strconv.FormatInt(u.ID, 10)
}

// quotaStoredUsage returns users.storage_used_bytes of the user subject.
func quotaStoredUsage(t *testing.T, db *sqlstore.DB, subject string) int64 {
	t.Helper()
	id, _ := strconv.ParseInt(subject, 10, 64)
	u, err := db.Users().UserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u.StorageUsedBytes
}

func quotaStorageUsage(t *testing.T, l quota.Ledger, subject string) quota.Usage {
	t.Helper()
	us, err := l.Usage(context.Background(), subject)
	if err != nil {
		t.Fatalf("Usage(%q): %v", subject, err)
	}
	for _, u := range us {
		if u.Resource == quota.ResourceStorage {
			return u
		}
	}
	t.Fatalf("Usage(%q) = %+v: no storage", subject, us)
	return quota.Usage{}
}

func TestLedgerUserDefaults(t *testing.T) {
	quotaDialects(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := db.Ledger(sqlstore.LedgerOptions{Now: func() time.Time { return quotaBase }})
		two := int64(2)
		alice := quotaUser(t, db, "alice", &two)
		bob := quotaUser(t, db, "bob", nil)

		// Before any ledger row, Usage shows the user's quota from the users table.
		if got, want := quotaStorageUsage(t, l, alice), (quota.Usage{Resource: quota.ResourceStorage, Limit: 2 * quotaMiB}); got != want {
			t.Fatalf("alice before any reservation = %+v, want %+v", got, want)
		}
		a, err := l.Reserve(ctx, alice, quota.ResourceStorage, quotaMiB, time.Hour)
		if err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, quotaMiB+1, time.Hour); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("Reserve past a 2 MiB quota: %v, want ErrExceeded", err)
		}
		if err := l.Commit(ctx, a, 1000); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := quotaStoredUsage(t, db, alice); got != 1000 {
			t.Fatalf("users.storage_used_bytes after Commit = %d, want 1000", got)
		}
		if err := l.Add(ctx, alice, quota.ResourceStorage, -400); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if got := quotaStoredUsage(t, db, alice); got != 600 {
			t.Fatalf("users.storage_used_bytes after Add = %d, want 600", got)
		}
		if got, want := quotaStorageUsage(t, l, alice), (quota.Usage{Resource: quota.ResourceStorage, Used: 600, Limit: 2 * quotaMiB}); got != want {
			t.Fatalf("alice = %+v, want %+v", got, want)
		}

		// NULL quota and an unknown user are unlimited.
		for _, subject := range []string{bob, "999999"} {
			if _, err := l.Reserve(ctx, subject, quota.ResourceStorage, 1<<40, time.Hour); err != nil {
				t.Fatalf("Reserve for %s: %v, want unlimited", subject, err)
			}
		}
		us, err := l.Usage(ctx, "888888")
		if err != nil || len(us) != 0 {
			t.Fatalf("Usage of an unknown user = %+v, %v; want none", us, err)
		}

		// Other resources of a user and non-canonical ids do not touch the users row.
		if err := l.Add(ctx, alice, "other", 5); err != nil {
			t.Fatalf("Add other: %v", err)
		}
		if err := l.Add(ctx, "0"+alice, quota.ResourceStorage, 7); err != nil {
			t.Fatalf("Add 0-prefixed: %v", err)
		}
		if got := quotaStoredUsage(t, db, alice); got != 600 {
			t.Fatalf("users.storage_used_bytes = %d after unrelated Adds, want 600", got)
		}

		// SetLimit writes a user's limit where it lives: users.storage_quota_mb, whole MiB.
		if err := l.SetLimit(ctx, alice, quota.ResourceStorage, 1000); !errors.Is(err, quota.ErrInvalid) {
			t.Fatalf("SetLimit of a part of a MiB: %v, want ErrInvalid", err)
		}
		if err := l.SetLimit(ctx, alice, quota.ResourceStorage, quotaMiB); err != nil {
			t.Fatalf("SetLimit: %v", err)
		}
		if u, err := db.Users().UserByID(ctx, quotaID(alice)); err != nil || u.StorageQuotaMB == nil || *u.StorageQuotaMB != 1 {
			t.Fatalf("users.storage_quota_mb after SetLimit = %+v, %v; want 1", u, err)
		}
		if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, quotaMiB-599, time.Hour); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("Reserve past the set limit: %v, want ErrExceeded", err)
		}
		if err := l.SetLimit(ctx, alice, quota.ResourceStorage, -1); err != nil {
			t.Fatalf("SetLimit unlimited: %v", err)
		}
		if u, _ := db.Users().UserByID(ctx, quotaID(alice)); u.StorageQuotaMB != nil {
			t.Fatalf("users.storage_quota_mb after SetLimit(-1) = %d, want NULL", *u.StorageQuotaMB)
		}
	})
}

// quotaID is the user id of a user subject.
func quotaID(subject string) int64 {
	id, _ := strconv.ParseInt(subject, 10, 64)
	return id
}

// TestLedgerReadsUserQuota: a user's limit is the users row's storage_quota_mb as it is when
// Reserve runs. A quota changed through the UserStore on one connection pool (another
// replica) holds for the very next Reserve and Extend on this one, and a usage row's own
// limit_bytes plays no part for a user.
func TestLedgerReadsUserQuota(t *testing.T) {
	for _, d := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "quota.db") }},
		{"postgres", func(t *testing.T) string { return testenv.Postgres(t) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			url := d.url(t)
			admin, replica := migrated(t, url), migrated(t, url)
			l := replica.Ledger(sqlstore.LedgerOptions{})
			one := int64(1)
			alice := quotaUser(t, admin, "alice", &one)
			setQuota := func(mb *int64) {
				t.Helper()
				if _, err := admin.Users().UpdateUser(ctx, quotaID(alice), auth.UserPatch{StorageQuotaMB: &mb}); err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
			}
			res, err := l.Reserve(ctx, alice, quota.ResourceStorage, quotaMiB, time.Hour)
			if err != nil {
				t.Fatalf("Reserve up to 1 MiB: %v", err)
			}
			if _, err := l.Extend(ctx, res, 1); !errors.Is(err, quota.ErrExceeded) {
				t.Fatalf("Extend past 1 MiB: %v, want ErrExceeded", err)
			}
			// A stale limit_bytes in the usage row (as an older version wrote) is not read.
			if _, err := admin.Bun().ExecContext(ctx, `UPDATE quota_usage SET limit_bytes = 10 WHERE subject = ?`, alice); err != nil {
				t.Fatal(err)
			}
			three := int64(3)
			setQuota(&three)
			if res, err = l.Extend(ctx, res, quotaMiB); err != nil || res.Amount != 2*quotaMiB {
				t.Fatalf("Extend after raising the quota: %+v, %v", res, err)
			}
			if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, quotaMiB+1, time.Hour); !errors.Is(err, quota.ErrExceeded) {
				t.Fatalf("Reserve past 3 MiB: %v, want ErrExceeded", err)
			}
			if got := quotaStorageUsage(t, l, alice); got.Limit != 3*quotaMiB || got.Reserved != 2*quotaMiB {
				t.Fatalf("Usage = %+v, want limit 3 MiB, 2 MiB reserved", got)
			}
			setQuota(nil)
			if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, 1<<40, time.Hour); err != nil {
				t.Fatalf("Reserve with no quota: %v, want unlimited", err)
			}
			zero := int64(0)
			setQuota(&zero)
			if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, 1, time.Hour); !errors.Is(err, quota.ErrExceeded) {
				t.Fatalf("Reserve with quota 0: %v, want ErrExceeded", err)
			}
		})
	}
}

func TestLedgerStartsFromStoredUsage(t *testing.T) {
	quotaDialects(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := db.Ledger(sqlstore.LedgerOptions{})
		one := int64(1)
		alice := quotaUser(t, db, "alice", &one)
		bob := quotaUser(t, db, "bob", nil)
		if _, err := db.Bun().ExecContext(ctx,
			`UPDATE users SET storage_used_bytes = ? WHERE id IN (?, ?)`, quotaMiB-10, alice, bob); err != nil {
			t.Fatalf("set stored usage: %v", err)
		}
		if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, 11, time.Hour); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("Reserve beyond stored usage: %v, want ErrExceeded", err)
		}
		if _, err := l.Reserve(ctx, alice, quota.ResourceStorage, 10, time.Hour); err != nil {
			t.Fatalf("Reserve up to the quota: %v", err)
		}
		// SetLimit on a missing row keeps the stored usage too.
		if err := l.SetLimit(ctx, bob, quota.ResourceStorage, quotaMiB); err != nil {
			t.Fatalf("SetLimit: %v", err)
		}
		if got, want := quotaStorageUsage(t, l, bob), (quota.Usage{Resource: quota.ResourceStorage, Used: quotaMiB - 10, Limit: quotaMiB}); got != want {
			t.Fatalf("bob = %+v, want %+v", got, want)
		}
	})
}

func TestLedgerSweepBatches(t *testing.T) {
	quotaDialects(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := db.Ledger(sqlstore.LedgerOptions{Now: func() time.Time { return quotaBase }})
		sqlstore.SetLedgerSweepBatch(l, 2)
		for i := range 5 {
			if _, err := l.Reserve(ctx, fmt.Sprint("s", i%2), quota.ResourceStorage, 10, time.Minute); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
		}
		keep, err := l.Reserve(ctx, "s0", quota.ResourceStorage, 3, time.Hour)
		if err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		if n, err := l.Sweep(ctx, quotaBase.Add(2*time.Minute)); err != nil || n != 5 {
			t.Fatalf("Sweep = %d, %v; want 5 in three batches", n, err)
		}
		if got := quotaStorageUsage(t, l, "s0"); got.Reserved != 3 {
			t.Fatalf("s0 reserved = %d after Sweep, want 3", got.Reserved)
		}
		if got := quotaStorageUsage(t, l, "s1"); got.Reserved != 0 {
			t.Fatalf("s1 reserved = %d after Sweep, want 0", got.Reserved)
		}
		if err := l.Commit(ctx, keep, 3); err != nil {
			t.Fatalf("Commit of the unexpired reservation: %v", err)
		}
	})
}

func TestLedgerCancelledContext(t *testing.T) {
	db := migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "quota.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := db.Ledger(sqlstore.LedgerOptions{}).Reserve(ctx, "alice", quota.ResourceStorage, 1, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestLedgerThreeReplicasPostgres: 50 concurrent 1 MiB uploads by one user with a 10 MiB
// quota, spread over three pools on one database, as three App replicas would be: exactly
// 10 fit, and after committing them and sweeping from all three at once nothing is left.
func TestLedgerThreeReplicasPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	var ledgers [3]*sqlstore.Ledger
	var dbs [3]*sqlstore.DB
	for i := range ledgers {
		dbs[i] = migrated(t, url)
		ledgers[i] = dbs[i].Ledger(sqlstore.LedgerOptions{Now: func() time.Time { return quotaBase }})
	}
	ten := int64(10)
	alice := quotaUser(t, dbs[0], "alice", &ten) // no ledger row yet: the replicas race to create it

	const uploads = 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      []quota.Reservation
		exceeded int
		errs     []error
	)
	for i := range uploads {
		wg.Go(func() {
			res, err := ledgers[i%3].Reserve(context.Background(), alice, quota.ResourceStorage, quotaMiB, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, res)
			case errors.Is(err, quota.ErrExceeded):
				exceeded++
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(won) != 10 || exceeded != uploads-10 || len(errs) != 0 {
		t.Fatalf("%d uploads: %d reserved, %d exceeded, errors %v; want 10 reserved", uploads, len(won), exceeded, errs)
	}
	for i, res := range won {
		if err := ledgers[i%3].Commit(context.Background(), res, quotaMiB); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	if got := quotaStoredUsage(t, dbs[1], alice); got != 10*quotaMiB {
		t.Fatalf("users.storage_used_bytes = %d, want %d", got, 10*quotaMiB)
	}

	// Reservations left by crashed processes, swept by three replicas at once.
	for i := range 30 {
		if _, err := ledgers[i%3].Reserve(context.Background(), fmt.Sprint("crashed", i%4), quota.ResourceStorage, 1, time.Minute); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
	}
	var swept [3]int
	for i, l := range ledgers {
		sqlstore.SetLedgerSweepBatch(l, 4)
		wg.Go(func() {
			n, err := l.Sweep(context.Background(), quotaBase.Add(time.Hour))
			if err != nil {
				t.Errorf("Sweep: %v", err)
			}
			swept[i] = n
		})
	}
	wg.Wait()
	if total := swept[0] + swept[1] + swept[2]; total != 30 {
		t.Fatalf("three concurrent sweeps released %v = %d, want 30 in all", swept, total)
	}
	var left, reserved int64
	if err := dbs[2].Bun().QueryRowContext(context.Background(),
		`SELECT (SELECT COUNT(*) FROM quota_reservations), (SELECT COALESCE(SUM(reserved), 0) FROM quota_usage)`).
		Scan(&left, &reserved); err != nil {
		t.Fatalf("count leftovers: %v", err)
	}
	if left != 0 || reserved != 0 {
		t.Fatalf("%d reservations and %d reserved bytes left, want none", left, reserved)
	}
	if got, want := quotaStorageUsage(t, ledgers[2], alice), (quota.Usage{Resource: quota.ResourceStorage, Used: 10 * quotaMiB, Limit: 10 * quotaMiB}); got != want {
		t.Fatalf("alice = %+v, want %+v", got, want)
	}
}
