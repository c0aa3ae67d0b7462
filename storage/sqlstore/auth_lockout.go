package sqlstore

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/auth"
)

// Lockout is the SQL auth.LockoutStore, on the login_attempts table: one row
// per key with the failures counted since window_start and the lock they led
// to. It serves every replica that shares the database. Safe for concurrent
// use: Fail runs in a transaction holding the key's row.
type Lockout struct{ db *DB }

var _ auth.LockoutStore = (*Lockout)(nil)

// Lockout returns the lockout store on db.
func (db *DB) Lockout() *Lockout { return &Lockout{db: db} }

type lockRow struct {
	Failures    int        `bun:"failures"`
	WindowStart time.Time  `bun:"window_start"`
	LockedUntil *time.Time `bun:"locked_until"`
}

// Fail records a failure of key at now. Failures count from the first one in
// the current window; once window has passed since it, counting restarts.
// When the count reaches max the key is locked until now+lockFor, which is
// returned, and the count starts afresh; otherwise it returns the zero time.
// A failure while the key is locked changes nothing and returns the current
// lock's end. It returns database errors only.
func (l *Lockout) Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (time.Time, error) {
	now = utc(now)
	var until time.Time
	err := l.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw(`INSERT INTO login_attempts (key, failures, window_start)
			VALUES (?, 0, ?) ON CONFLICT (key) DO NOTHING`, key, l.db.timeArg(now)).Exec(ctx); err != nil {
			return err
		}
		var row lockRow
		if err := tx.NewRaw(`SELECT failures, window_start, locked_until FROM login_attempts
			WHERE key = ?`+l.db.forUpdate(), key).Scan(ctx, &row); err != nil {
			return err
		}
		if row.LockedUntil != nil && row.LockedUntil.After(now) {
			until = row.LockedUntil.UTC()
			return nil
		}
		start := row.WindowStart.UTC()
		if row.Failures == 0 || !now.Before(start.Add(window)) {
			row.Failures, start = 0, now
		}
		row.Failures++
		var locked any
		if row.Failures >= max {
			until = now.Add(lockFor)
			locked = l.db.timeArg(until)
			row.Failures = 0 // after the lock, counting starts afresh
		}
		_, err := tx.NewRaw(`UPDATE login_attempts SET failures = ?, window_start = ?, locked_until = ?
			WHERE key = ?`, row.Failures, l.db.timeArg(start), locked, key).Exec(ctx)
		return err
	})
	if err != nil {
		return time.Time{}, authErr("record failed login", "lockout", err)
	}
	return until, nil
}

// LockedUntil returns the end of key's lock, or the zero time when key is
// not locked at now. It returns database errors only.
func (l *Lockout) LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	var until []time.Time
	err := l.db.bun.NewRaw(`SELECT locked_until FROM login_attempts WHERE key = ? AND locked_until > ?`,
		key, l.db.timeArg(now)).Scan(ctx, &until)
	if err != nil {
		return time.Time{}, authErr("lockout status", "lockout", err)
	}
	if len(until) == 0 {
		return time.Time{}, nil
	}
	return until[0].UTC(), nil
}

// Reset clears key's failures and any lock. It returns database errors only.
func (l *Lockout) Reset(ctx context.Context, key string) error {
	_, err := l.db.bun.NewRaw(`DELETE FROM login_attempts WHERE key = ?`, key).Exec(ctx)
	return authErr("reset lockout", "lockout", err)
}

// ResetTree clears key and every key that starts with key+"|". It returns database errors
// only.
func (l *Lockout) ResetTree(ctx context.Context, key string) error {
	under := key + "|"
	_, err := l.db.bun.NewRaw(`DELETE FROM login_attempts WHERE key = ? OR substr(key, 1, ?) = ?`,
		key, utf8.RuneCountInString(under), under).Exec(ctx)
	return authErr("reset lockout", "lockout", err)
}

// PruneAuth deletes authentication rows that ended before before and can no longer matter:
// login-attempt counters whose window started and whose lock (if any) ended before it,
// sessions revoked or past their refresh expiry before it, API keys revoked or expired
// before it, and registration codes that expired before it. Without it these tables grow
// forever; the App runs it on a schedule with AUTH_RETENTION_DAYS. It returns how many
// rows went, in total, and database errors only.
func (db *DB) PruneAuth(ctx context.Context, before time.Time) (int64, error) {
	t := db.timeArg(utc(before))
	stmts := []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM login_attempts WHERE window_start < ? AND (locked_until IS NULL OR locked_until < ?)`, []any{t, t}},
		{`DELETE FROM sessions WHERE revoked_at < ? OR refresh_expires_at < ?`, []any{t, t}},
		{`DELETE FROM api_keys WHERE revoked_at < ? OR expires_at < ?`, []any{t, t}},
		{`DELETE FROM registration_codes WHERE expires_at < ?`, []any{t}},
	}
	var total int64
	for _, s := range stmts {
		res, err := db.bun.ExecContext(ctx, s.sql, s.args...)
		if err != nil {
			return total, authErr("prune auth rows", "auth", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, authErr("prune auth rows", "auth", err)
		}
		total += n
	}
	return total, nil
}
