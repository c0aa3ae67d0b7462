package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/quota"
)

// quotaMiB is the unit of users.storage_quota_mb.
const quotaMiB = 1 << 20

// defaultSweepBatch is how many expired reservations Sweep releases per transaction.
const defaultSweepBatch = 500

// quotaUserLimit is a user's storage limit in bytes from users.storage_quota_mb (MiB):
// NULL is unlimited (-1); a negative quota, which package auth never writes, allows nothing.
const quotaUserLimit = `CASE WHEN storage_quota_mb IS NULL THEN -1
	WHEN storage_quota_mb < 0 THEN 0 ELSE storage_quota_mb * 1048576 END`

// quotaLimit is the limit a statement on a quota_usage row checks, read in that statement:
// a user's storage limit from the users row (users.storage_quota_mb, the one place it is
// kept), any other subject's and resource's from the row's limit_bytes. Its one argument is
// quotaUserArg, which matches no user for the others.
const quotaLimit = `COALESCE((SELECT ` + quotaUserLimit + ` FROM users WHERE id = ?), limit_bytes)`

// quotaFits is the reserving condition: n more units fit under quotaLimit, written
// n <= limit - used - reserved so that no sum can overflow. Arguments: the user id, n, the
// user id.
const quotaFits = `(` + quotaLimit + ` < 0 OR ? <= ` + quotaLimit + ` - used - reserved)`

// quotaEnsure creates a missing quota_usage row, unlimited of its own. For a user's storage
// the initial usage comes from the users row; for any other subject or resource the user id
// argument is NULL, which matches no user.
const quotaEnsure = `INSERT INTO quota_usage (subject, resource, used, reserved, limit_bytes, updated_at)
	VALUES (?, ?, COALESCE((SELECT storage_used_bytes FROM users WHERE id = ?), 0), 0, -1, ?)
	ON CONFLICT (subject, resource) DO NOTHING`

// LedgerOptions configures a Ledger.
type LedgerOptions struct {
	// Now is the clock Reserve computes ExpiresAt from and rows are stamped with; nil means
	// time.Now.
	Now func() time.Time
}

// Ledger is the SQL quota.Ledger, on the tables quota_usage (one row per subject and
// resource: used, reserved, limit_bytes) and quota_reservations (one row per live
// reservation). Safe for concurrent use, also by several processes sharing one database.
//
// Reserve is one transaction: it creates the usage row if missing, then runs the single
// conditional UPDATE that adds n to reserved only while used + reserved + n ≤ limit (no row
// updated is quota.ErrExceeded), then inserts the reservation. On PostgreSQL that UPDATE locks
// the row and re-evaluates its WHERE against the newest version, so concurrent reservations
// serialise correctly under READ COMMITTED, across replicas; on SQLite the transaction holds
// the database's write lock from BEGIN IMMEDIATE. Commit, Release and Sweep delete the
// reservation row first, so each reservation is settled exactly once.
//
// Users: a subject that is a user id in decimal ("42") with resource quota.ResourceStorage
// is that user's storage. Its limit is users.storage_quota_mb MiB (NULL: unlimited), read by
// the very statement that reserves, so a quota changed through auth.UserStore holds from the
// next Reserve on, on every replica, with no second copy to keep in step; SetLimit writes
// that column too. Its usage row starts from users.storage_used_bytes, and every change of
// its usage is copied there in the same transaction, so the auth views (storage_used_mb)
// agree with the ledger. Usage reports such a user's storage even before the ledger has a
// row for it. A subject whose user does not exist is limited by its usage row alone.
//
// Reservations live until committed, released or swept: run Sweep periodically (on any one
// or on every replica; concurrent sweeps skip each other's rows) to release those a crashed
// process left behind.
//
// Errors: quota.ErrInvalid, quota.ErrExceeded and quota.ErrNotFound as documented per
// method; context errors stay detectable with errors.Is; other database errors are returned
// with their message but without the driver's type.
type Ledger struct {
	db         *DB
	now        func() time.Time
	sweepBatch int
}

var _ quota.Ledger = (*Ledger)(nil)

// Ledger returns the quota ledger on db.
func (db *DB) Ledger(o LedgerOptions) *Ledger {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Ledger{db: db, now: now, sweepBatch: defaultSweepBatch}
}

// Reserve holds n units of r for subject until ttl passes, when used + reserved + n ≤ limit
// (or the limit is -1). Errors: quota.ErrInvalid for an empty subject or resource, a negative
// n or a non-positive ttl; quota.ErrExceeded when the units do not fit (nothing is reserved).
func (l *Ledger) Reserve(ctx context.Context, subject string, r quota.Resource, n int64, ttl time.Duration) (quota.Reservation, error) {
	if err := quota.CheckReserve(subject, r, n, ttl); err != nil {
		return quota.Reservation{}, err
	}
	now := utc(l.now())
	res := quota.Reservation{
		ID: uuid.NewString(), Subject: subject, Resource: r, Amount: n, ExpiresAt: utc(now.Add(ttl)),
	}
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := l.ensure(ctx, tx, subject, r, now); err != nil {
			return err
		}
		id := quotaUserArg(subject, r)
		out, err := tx.ExecContext(ctx, `UPDATE quota_usage SET reserved = reserved + ?, updated_at = ?
			WHERE subject = ? AND resource = ? AND `+quotaFits,
			n, l.db.timeArg(now), subject, string(r), id, n, id)
		if err != nil {
			return err
		}
		if rows, err := out.RowsAffected(); err != nil {
			return err
		} else if rows == 0 {
			return fmt.Errorf("%w: %s of %q", quota.ErrExceeded, r, subject)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO quota_reservations
			(id, subject, resource, amount, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			res.ID, subject, string(r), n, l.db.timeArg(now), l.db.timeArg(res.ExpiresAt))
		return err
	})
	if err != nil {
		return quota.Reservation{}, quotaErr("reserve", err)
	}
	return res, nil
}

// Commit turns the reservation into usage of actual units (more or less than reserved: the
// caller measured it) and drops it, in one transaction. Errors: quota.ErrInvalid for a
// negative actual; quota.ErrNotFound when no live reservation has res's ID, Subject and
// Resource (committed, released or swept).
func (l *Ledger) Commit(ctx context.Context, res quota.Reservation, actual int64) error {
	if err := quota.CheckAmount(actual); err != nil {
		return err
	}
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		amount, err := l.take(ctx, tx, res)
		if err != nil {
			return err
		}
		return l.settle(ctx, tx, res.Subject, res.Resource, amount, actual)
	})
	return quotaErr("commit reservation", err)
}

// Release drops the reservation without usage; it returns nil when it is already gone.
func (l *Ledger) Release(ctx context.Context, res quota.Reservation) error {
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		amount, err := l.take(ctx, tx, res)
		if err != nil {
			return err
		}
		return l.settle(ctx, tx, res.Subject, res.Resource, amount, 0)
	})
	if errors.Is(err, quota.ErrNotFound) {
		return nil
	}
	return quotaErr("release reservation", err)
}

// take deletes the reservation matching res's ID, Subject and Resource and returns the
// amount it held, or quota.ErrNotFound.
func (l *Ledger) take(ctx context.Context, tx bun.Tx, res quota.Reservation) (int64, error) {
	var amount int64
	err := tx.QueryRowContext(ctx, `DELETE FROM quota_reservations
		WHERE id = ? AND subject = ? AND resource = ? RETURNING amount`,
		res.ID, res.Subject, string(res.Resource)).Scan(&amount)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", quota.ErrNotFound, res.ID)
	}
	return amount, err
}

// settle moves a settled reservation's amount out of reserved and adds used units,
// copying the new usage to users.storage_used_bytes when used changes.
func (l *Ledger) settle(ctx context.Context, tx bun.Tx, subject string, r quota.Resource, amount, used int64) error {
	var total int64
	err := tx.QueryRowContext(ctx, `UPDATE quota_usage SET used = used + ?,
		reserved = `+l.db.quotaMax()+`(0, reserved - ?), updated_at = ?
		WHERE subject = ? AND resource = ? RETURNING used`,
		used, amount, l.db.timeArg(l.now()), subject, string(r)).Scan(&total)
	if err != nil {
		return err
	}
	if used == 0 {
		return nil
	}
	return syncUserUsage(ctx, tx, subject, r, total)
}

// Add changes committed usage by delta (negative frees), never below zero, creating the
// usage row if missing. Errors: quota.ErrInvalid for an empty subject or resource.
func (l *Ledger) Add(ctx context.Context, subject string, r quota.Resource, delta int64) error {
	if err := quota.CheckKey(subject, r); err != nil {
		return err
	}
	now := utc(l.now())
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := l.ensure(ctx, tx, subject, r, now); err != nil {
			return err
		}
		var total int64
		err := tx.QueryRowContext(ctx, `UPDATE quota_usage SET used = `+l.db.quotaMax()+`(0, used + ?),
			updated_at = ? WHERE subject = ? AND resource = ? RETURNING used`,
			delta, l.db.timeArg(now), subject, string(r)).Scan(&total)
		if err != nil {
			return err
		}
		return syncUserUsage(ctx, tx, subject, r, total)
	})
	return quotaErr("add usage", err)
}

// SetLimit sets the subject's limit of r (-1 = unlimited). A user's storage limit is written
// where it lives, users.storage_quota_mb, so it must be -1 or a whole number of MiB up to
// auth.MaxStorageQuotaMB; any other limit (or a user id with no user) goes to the usage row,
// created if missing. Usage above a lowered limit stays; nothing more can be reserved.
// Errors: quota.ErrInvalid for an empty subject or resource, a limit below -1, or a user's
// limit that is not a storage_quota_mb.
func (l *Ledger) SetLimit(ctx context.Context, subject string, r quota.Resource, limit int64) error {
	if err := quota.CheckKey(subject, r); err != nil {
		return err
	}
	if limit < -1 {
		return fmt.Errorf("%w: limit %d (want -1 for unlimited or ≥ 0)", quota.ErrInvalid, limit)
	}
	now := l.db.timeArg(l.now())
	if id := quotaUserArg(subject, r); id != nil {
		var mb *int64
		if limit >= 0 {
			if limit%quotaMiB != 0 || limit/quotaMiB > auth.MaxStorageQuotaMB {
				return fmt.Errorf("%w: a user's storage limit is a whole number of MiB up to %d MiB, not %d bytes",
					quota.ErrInvalid, auth.MaxStorageQuotaMB, limit)
			}
			v := limit / quotaMiB
			mb = &v
		}
		out, err := l.db.idb(ctx).ExecContext(ctx, `UPDATE users SET storage_quota_mb = ?, updated_at = ? WHERE id = ?`, mb, now, id)
		if err != nil {
			return quotaErr("set limit", err)
		}
		if n, err := out.RowsAffected(); err != nil || n == 1 {
			return quotaErr("set limit", err)
		}
	}
	_, err := l.db.idb(ctx).ExecContext(ctx, `INSERT INTO quota_usage
		(subject, resource, used, reserved, limit_bytes, updated_at) VALUES (?, ?, 0, 0, ?, ?)
		ON CONFLICT (subject, resource)
		DO UPDATE SET limit_bytes = excluded.limit_bytes, updated_at = excluded.updated_at`,
		subject, string(r), limit, now)
	return quotaErr("set limit", err)
}

// Usage reports the subject's resources sorted by name, none for an unknown subject. For a
// user id it includes the user's storage even before the ledger has a row for it, as
// Reserve would create it. Errors: quota.ErrInvalid for an empty subject.
func (l *Ledger) Usage(ctx context.Context, subject string) ([]quota.Usage, error) {
	if subject == "" {
		return nil, fmt.Errorf("%w: empty subject", quota.ErrInvalid)
	}
	rows, err := l.db.idb(ctx).QueryContext(ctx, `SELECT resource, used, reserved,
		CASE WHEN resource = ? THEN `+quotaLimit+` ELSE limit_bytes END
		FROM quota_usage WHERE subject = ?`,
		string(quota.ResourceStorage), quotaUserArg(subject, quota.ResourceStorage), subject)
	if err != nil {
		return nil, quotaErr("usage", err)
	}
	defer rows.Close()
	var out []quota.Usage
	for rows.Next() {
		var u quota.Usage
		if err := rows.Scan(&u.Resource, &u.Used, &u.Reserved, &u.Limit); err != nil {
			return nil, quotaErr("usage", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, quotaErr("usage", err)
	}
	if id := quotaUserArg(subject, quota.ResourceStorage); id != nil &&
		!slices.ContainsFunc(out, func(u quota.Usage) bool { return u.Resource == quota.ResourceStorage }) {
		u := quota.Usage{Resource: quota.ResourceStorage}
		err := l.db.idb(ctx).QueryRowContext(ctx, `SELECT storage_used_bytes, `+quotaUserLimit+`
			FROM users WHERE id = ?`, id).Scan(&u.Used, &u.Limit)
		switch {
		case err == nil:
			out = append(out, u)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, quotaErr("usage", err)
		}
	}
	slices.SortFunc(out, func(a, b quota.Usage) int { return cmp.Compare(a.Resource, b.Resource) })
	return out, nil
}

// Sweep releases the reservations whose ExpiresAt is before now and returns how many, in
// transactions of up to 500. Rows another transaction is settling are skipped (PostgreSQL
// SKIP LOCKED), so several replicas may sweep at once. On error it returns the number
// released before it.
func (l *Ledger) Sweep(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, err := l.sweepBatchOnce(ctx, now)
		total += n
		if err != nil {
			return total, quotaErr("sweep reservations", err)
		}
		if n < l.sweepBatch {
			return total, nil
		}
	}
}

// sweepBatchOnce releases up to l.sweepBatch expired reservations in one transaction.
func (l *Ledger) sweepBatchOnce(ctx context.Context, now time.Time) (int, error) {
	type key struct {
		subject  string
		resource quota.Resource
	}
	lock := ""
	if l.db.dialect == dialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := 0
	err := l.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `DELETE FROM quota_reservations WHERE id IN
			(SELECT id FROM quota_reservations WHERE expires_at < ? ORDER BY expires_at LIMIT ?`+lock+`)
			RETURNING subject, resource, amount`, l.db.timeArg(now), l.sweepBatch)
		if err != nil {
			return err
		}
		held := make(map[key]int64)
		for rows.Next() {
			var (
				k      key
				amount int64
			)
			if err := rows.Scan(&k.subject, &k.resource, &amount); err != nil {
				rows.Close()
				return err
			}
			held[k] += amount
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Update usage rows in a fixed order so concurrent sweeps cannot deadlock.
		keys := make([]key, 0, len(held))
		for k := range held {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			return cmp.Or(cmp.Compare(a.subject, b.subject), cmp.Compare(a.resource, b.resource))
		})
		for _, k := range keys {
			if err := l.settle(ctx, tx, k.subject, k.resource, held[k], 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Extend adds n units to a live reservation when used + reserved + n ≤ limit, in one
// transaction that settles the reservation row first, as Commit does. Errors:
// quota.ErrInvalid for a negative n; quota.ErrNotFound when no live reservation has res's
// ID, Subject and Resource; quota.ErrExceeded when the units do not fit (nothing changes).
func (l *Ledger) Extend(ctx context.Context, res quota.Reservation, n int64) (quota.Reservation, error) {
	if err := quota.CheckAmount(n); err != nil {
		return quota.Reservation{}, err
	}
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var amount int64
		err := tx.QueryRowContext(ctx, `UPDATE quota_reservations SET amount = amount + ?
			WHERE id = ? AND subject = ? AND resource = ? RETURNING amount`,
			n, res.ID, res.Subject, string(res.Resource)).Scan(&amount)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q", quota.ErrNotFound, res.ID)
		} else if err != nil {
			return err
		}
		id := quotaUserArg(res.Subject, res.Resource)
		out, err := tx.ExecContext(ctx, `UPDATE quota_usage SET reserved = reserved + ?, updated_at = ?
			WHERE subject = ? AND resource = ? AND `+quotaFits,
			n, l.db.timeArg(l.now()), res.Subject, string(res.Resource), id, n, id)
		if err != nil {
			return err
		}
		if rows, err := out.RowsAffected(); err != nil {
			return err
		} else if rows == 0 {
			return fmt.Errorf("%w: %s of %q", quota.ErrExceeded, res.Resource, res.Subject)
		}
		res.Amount = amount
		return nil
	})
	if err != nil {
		return quota.Reservation{}, quotaErr("extend reservation", err)
	}
	return res, nil
}

// Locked runs fn in one transaction that first creates the usage row of subject and r if
// missing and locks it (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the transaction
// holds the database's write lock from BEGIN IMMEDIATE), so Locked calls for one subject
// serialise across replicas. Ledger and store calls made with fn's ctx on this database
// join the transaction (nested ones as savepoints); fn's error rolls everything back and is
// returned as it is. Errors: quota.ErrInvalid for an empty subject or resource.
func (l *Ledger) Locked(ctx context.Context, subject string, r quota.Resource, fn func(ctx context.Context) error) error {
	if err := quota.CheckKey(subject, r); err != nil {
		return err
	}
	var fnErr error
	err := l.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := l.ensure(ctx, tx, subject, r, utc(l.now())); err != nil {
			return err
		}
		var used int64
		if err := tx.QueryRowContext(ctx, `SELECT used FROM quota_usage WHERE subject = ? AND resource = ?`+
			l.db.forUpdate(), subject, string(r)).Scan(&used); err != nil {
			return err
		}
		fnErr = fn(context.WithValue(ctx, txKey{l.db}, tx))
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return quotaErr("locked usage", err)
}

// txKey is the context key under which Ledger.Locked passes its transaction on db to the
// calls fn makes.
type txKey struct{ db *DB }

// idb returns the transaction of an enclosing Ledger.Locked on db, else db itself.
func (db *DB) idb(ctx context.Context) bun.IDB {
	if tx, ok := ctx.Value(txKey{db}).(bun.Tx); ok {
		return tx
	}
	return db.bun
}

// runInTx runs fn in a transaction on db, or in a savepoint of an enclosing
// Ledger.Locked's transaction.
func (db *DB) runInTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if tx, ok := ctx.Value(txKey{db}).(bun.Tx); ok {
		return tx.RunInTx(ctx, nil, fn)
	}
	return db.bun.RunInTx(ctx, nil, fn)
}

// ensure creates the usage row of subject and r if it is missing.
func (l *Ledger) ensure(ctx context.Context, tx bun.Tx, subject string, r quota.Resource, now time.Time) error {
	id := quotaUserArg(subject, r)
	_, err := tx.ExecContext(ctx, quotaEnsure, subject, string(r), id, l.db.timeArg(now))
	return err
}

// syncUserUsage copies a user's storage usage to users.storage_used_bytes; for other
// subjects and resources it does nothing.
func syncUserUsage(ctx context.Context, tx bun.Tx, subject string, r quota.Resource, used int64) error {
	id := quotaUserArg(subject, r)
	if id == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE users SET storage_used_bytes = ? WHERE id = ?`, used, id)
	return err
}

// quotaUserArg returns the user id (int64) when subject is a user id in canonical decimal
// form and r is storage, and nil otherwise: an argument that matches no user.
func quotaUserArg(subject string, r quota.Resource) any {
	if r != quota.ResourceStorage {
		return nil
	}
	id, err := strconv.ParseInt(subject, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != subject {
		return nil
	}
	return id
}

// quotaMax is the dialect's two-argument maximum function.
func (db *DB) quotaMax() string {
	if db.dialect == dialectPostgres {
		return "GREATEST"
	}
	return "MAX"
}

// quotaErr translates err from operation op: quota sentinels pass through, context
// cancellation stays detectable, a CHECK violation is quota.ErrInvalid and any other
// database error keeps its message but not the driver's type.
func quotaErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, quota.ErrInvalid), errors.Is(err, quota.ErrExceeded), errors.Is(err, quota.ErrNotFound):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if kind, detail := violation(err); kind == "check" {
		return fmt.Errorf("%w: rejected by the database: %s", quota.ErrInvalid, detail)
	}
	return fmt.Errorf("sqlstore: %s: %v", op, err)
}
