package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/tldw-go/tldw/auth"
)

// The auth stores (Users, Sessions, Codes, APIKeys, Lockout, Settings) live
// in the tables of migration 20261128000003_auth. Each is a thin handle on DB,
// safe for concurrent use, and translates driver errors into package auth's
// sentinels at the boundary: no row is auth.ErrNotFound, a unique violation is
// auth.ErrConflict, a foreign-key violation (an unknown user) is
// auth.ErrNotFound and a CHECK violation is auth.ErrInvalid. Any other
// database error is returned with its message but without the driver's type.

// Result codes of SQLite constraint violations (extended result codes, which
// modernc.org/sqlite enables) and PostgreSQL SQLSTATEs.
const (
	sqliteConstraintCheck      = 275
	sqliteConstraintForeignKey = 787
	sqliteConstraintNotNull    = 1299
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067

	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
	pgNotNullViolation    = "23502"
	pgInvalidText         = "22P02"
)

// violation classifies a constraint error: "unique", "foreign", "check" or
// "" for anything else. detail is the constraint name (PostgreSQL) or message
// (SQLite), for telling which unique column clashed.
func violation(err error) (kind, detail string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return "unique", pe.ConstraintName
		case pgForeignKeyViolation:
			return "foreign", pe.ConstraintName
		case pgCheckViolation, pgNotNullViolation, pgInvalidText:
			return "check", pe.ConstraintName
		}
		return "", ""
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return "unique", se.Error()
		case sqliteConstraintForeignKey:
			return "foreign", se.Error()
		case sqliteConstraintCheck, sqliteConstraintNotNull:
			return "check", se.Error()
		}
	}
	return "", ""
}

// authErr translates err from operation op. what names the object for
// ErrNotFound ("user", "session", ...). Errors that already carry an auth
// sentinel pass through; context cancellation stays detectable with errors.Is.
func authErr(op, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case isAuthSentinel(err):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", auth.ErrNotFound, what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	switch kind, detail := violation(err); kind {
	case "unique":
		return fmt.Errorf("%w: %s", auth.ErrConflict, conflictDetail(what, detail))
	case "foreign":
		return fmt.Errorf("%w: user", auth.ErrNotFound)
	case "check":
		return fmt.Errorf("%w: %s rejected by the database: %s", auth.ErrInvalid, what, detail)
	}
	// %v, not %w: callers never see a driver's error type.
	return fmt.Errorf("sqlstore: %s: %v", op, err)
}

// conflictDetail names the clashing field from a constraint name or message.
func conflictDetail(what, detail string) string {
	switch {
	case strings.Contains(detail, "username"):
		return "username already exists"
	case strings.Contains(detail, "email"):
		return "email already exists"
	case strings.Contains(detail, "key_id"), strings.Contains(detail, "key_hash"):
		return "api key already exists"
	case strings.Contains(detail, "refresh_hash"):
		return "refresh token already in use"
	case strings.Contains(detail, "code"):
		return "registration code already exists"
	}
	return what + " already exists"
}

func isAuthSentinel(err error) bool {
	for _, s := range []error{auth.ErrNotFound, auth.ErrConflict, auth.ErrInvalid} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// affected returns ErrNotFound (for what) when res changed no row.
func affected(op, what string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return authErr(op, what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", auth.ErrNotFound, what)
	}
	return nil
}

// utc normalises a time for storage and comparison: UTC with the microsecond
// precision both dialects keep.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nowUTC is the store's fallback clock, used only for timestamps the caller
// left zero.
func nowUTC() time.Time { return utc(time.Now()) }

// orNow returns t normalised, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return nowUTC()
	}
	return utc(t)
}

// nullTimeArg is t as an argument for a nullable timestamp column; the
// dialect's representation comes from timeArg (fixed-width UTC text on
// SQLite, timestamptz on PostgreSQL), shared with the other stores.
func (db *DB) nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.timeArg(*t)
}

// timePtr normalises a scanned nullable time.
func timePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString is an argument for a nullable text column: "" is NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullID is an argument for a nullable reference: 0 is NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// forUpdate is the row-locking suffix of a SELECT inside a transaction.
// SQLite needs none: its transactions begin IMMEDIATE and so already hold
// the write lock.
func (db *DB) forUpdate() string {
	if db.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}
