package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

const (
	migrationsTable      = "tldw_migrations"
	migrationLocksTable  = "tldw_migration_locks"
	migrationLockKey     = int64(0x746c64776d696772) // "tldwmigr": pg_advisory_xact_lock key
	postgresExtensionSQL = `CREATE EXTENSION IF NOT EXISTS %q`
)

// postgresExtensions are created before migrating when the role is allowed to;
// the deployment guide asks for both.
var postgresExtensions = [...]string{"uuid-ossp", "pg_trgm"}

// MigrationStatus describes which migrations a database has.
type MigrationStatus struct {
	// Applied lists applied migrations ("<version>_<name>") in order, followed
	// by any applied version this binary does not know (a newer schema), then
	// River's applied migrations ("river_<version>_<name>").
	Applied []string
	// Pending lists migrations not yet applied, in the order Migrate applies them
	// (River's last).
	Pending []string
	// Current reports that nothing is pending.
	Current bool
}

// migrations loads this dialect's embedded migration set.
func (db *DB) migrations() (*migrate.Migrations, error) {
	if db.dialect != dialectSQLite && db.dialect != dialectPostgres {
		return nil, fmt.Errorf("%w: no migrations for dialect %q", ErrInvalid, db.dialect)
	}
	sub, err := fs.Sub(migrationFiles, "migrations/"+db.dialect)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return ms, nil
}

func (db *DB) migrator(ms *migrate.Migrations) *migrate.Migrator {
	return migrate.NewMigrator(db.bun, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
	)
}

// Migrate applies pending migrations in version order and returns the names
// ("<version>_<name>") it applied, none when the schema is current. On
// PostgreSQL it first tries to create the uuid-ossp and pg_trgm extensions,
// logging a warning and carrying on when the role may not, and holds an
// advisory lock for the whole run so several processes may call Migrate on one
// database at once: each migration is applied exactly once and every caller
// returns after the schema is current. On SQLite only callers in this process
// are serialised: if two processes migrate one file at the same moment, one
// may fail and should simply be run again. On failure it returns the migrations
// applied before the failing one together with the error; a ".tx" migration
// that fails leaves nothing behind and is retried by the next call. Migrate
// returns an ErrInvalid-wrapped error for a pool from New with an unsupported
// dialect, and database errors wrapped.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	db.migMu.Lock()
	defer db.migMu.Unlock()

	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	m := db.migrator(ms)
	if db.dialect == dialectPostgres {
		unlock, err := db.lockPostgres(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := db.checkCreatePrivilege(ctx); err != nil {
			if st, serr := db.MigrationStatus(ctx); serr == nil && st.Current {
				return nil, nil // nothing to create
			}
			return nil, err
		}
		db.createExtensions(ctx)
	}
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: create migration tables: %w", err)
	}
	group, err := m.Migrate(ctx)
	applied := group.Migrations
	if err != nil && len(applied) > 0 {
		applied = applied[:len(applied)-1] // the last one is the one that failed
	}
	names := make([]string, 0, len(applied))
	for _, mig := range applied {
		names = append(names, label(mig))
		db.log.InfoContext(ctx, "applied database migration", "migration", label(mig), "dialect", db.dialect)
	}
	if err != nil {
		return names, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	river, err := db.migrateRiver(ctx)
	names = append(names, river...)
	return names, err
}

// lockPostgres takes the migration advisory lock inside a transaction on a
// connection of its own, waiting for other holders (until ctx is done). The
// lock is released by the returned function, or by the server if the process
// dies. Holding it needs a second connection for the migrations themselves.
func (db *DB) lockPostgres(ctx context.Context) (unlock func(), err error) {
	if n := db.Stats().MaxOpenConnections; n > 0 && n < minPostgresConns {
		return nil, fmt.Errorf("%w: Migrate on postgres needs a pool of at least %d connections", ErrInvalid, minPostgresConns)
	}
	tx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrationLockKey); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
	}
	return func() { _ = tx.Rollback() }, nil
}

// plainIdent matches identifiers PostgreSQL reads unchanged without quotes.
var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// checkCreatePrivilege fails with the statement that fixes it when the role may not create
// tables in its schema: since PostgreSQL 15 GRANT ALL PRIVILEGES ON DATABASE no longer
// covers the public schema, and migrating would fail with "permission denied for schema".
func (db *DB) checkCreatePrivilege(ctx context.Context) error {
	var (
		user, database string
		schema         sql.NullString
		ok             bool
	)
	err := db.bun.QueryRowContext(ctx, `SELECT current_user, current_database(), current_schema(),
		coalesce(has_schema_privilege(coalesce(current_schema(), 'public'), 'CREATE'), false)`).Scan(&user, &database, &schema, &ok)
	if err != nil {
		return fmt.Errorf("sqlstore: check schema privileges: %w", err)
	}
	if ok {
		return nil
	}
	name := schema.String
	if !schema.Valid {
		name = "public"
	}
	ident := func(s string) string {
		if plainIdent.MatchString(s) {
			return s
		}
		return pgx.Identifier{s}.Sanitize()
	}
	return fmt.Errorf("sqlstore: role %s may not create tables in schema %s of database %s "+
		"(PostgreSQL 15 and later no longer let GRANT ALL PRIVILEGES ON DATABASE do that); "+
		"as the database owner or a superuser run: GRANT CREATE ON SCHEMA %s TO %s; "+
		"or make the role own the database: ALTER DATABASE %s OWNER TO %s;",
		ident(user), ident(name), ident(database), ident(name), ident(user), ident(database), ident(user))
}

// createExtensions creates the PostgreSQL extensions tldw uses where allowed.
// Each statement runs on its own, so a refusal affects nothing else.
func (db *DB) createExtensions(ctx context.Context) {
	for _, ext := range postgresExtensions {
		if _, err := db.bun.ExecContext(ctx, fmt.Sprintf(postgresExtensionSQL, ext)); err != nil {
			db.log.WarnContext(ctx, "cannot create postgres extension; continuing without it (a superuser can run CREATE EXTENSION)",
				"extension", ext, "error", err)
		}
	}
}

// MigrationStatus reports applied and pending migrations without changing the
// database (an empty database has every migration pending). It returns
// database errors wrapped, and an ErrInvalid-wrapped error for an unsupported
// dialect.
func (db *DB) MigrationStatus(ctx context.Context) (MigrationStatus, error) {
	ms, err := db.migrations()
	if err != nil {
		return MigrationStatus{}, err
	}
	var st MigrationStatus
	exists, err := db.tableExists(ctx, migrationsTable)
	if err != nil {
		return MigrationStatus{}, err
	}
	if !exists {
		for _, mig := range ms.Sorted() {
			st.Pending = append(st.Pending, label(mig))
		}
		_, river, err := db.riverStatus(ctx)
		if err != nil {
			return MigrationStatus{}, err
		}
		st.Pending = append(st.Pending, river...)
		st.Current = len(st.Pending) == 0
		return st, nil
	}
	m := db.migrator(ms)
	all, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("sqlstore: migration status: %w", err)
	}
	for _, mig := range all {
		if mig.IsApplied() {
			st.Applied = append(st.Applied, label(mig))
		} else {
			st.Pending = append(st.Pending, label(mig))
		}
	}
	unknown, err := m.MissingMigrations(ctx)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("sqlstore: migration status: %w", err)
	}
	slices.SortFunc(unknown, func(a, b migrate.Migration) int { return strings.Compare(a.Name, b.Name) })
	for _, mig := range unknown {
		st.Applied = append(st.Applied, label(mig))
	}
	rApplied, rPending, err := db.riverStatus(ctx)
	if err != nil {
		return MigrationStatus{}, err
	}
	st.Applied, st.Pending = append(st.Applied, rApplied...), append(st.Pending, rPending...)
	st.Current = len(st.Pending) == 0
	return st, nil
}

// tableExists reports whether table is visible without schema qualification,
// which is how the migrator refers to it.
func (db *DB) tableExists(ctx context.Context, table string) (bool, error) {
	var q string
	switch db.dialect {
	case dialectSQLite:
		q = "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?"
	default:
		q = "SELECT to_regclass(?) IS NOT NULL"
	}
	var ok bool
	if err := db.bun.NewRaw(q, table).Scan(ctx, &ok); err != nil {
		return false, fmt.Errorf("sqlstore: look up %s: %w", table, err)
	}
	return ok, nil
}

// label names a migration "<version>_<name>", or "<version>" when its file is
// unknown.
func label(m migrate.Migration) string {
	if m.Comment == "" {
		return m.Name
	}
	return m.Name + "_" + m.Comment
}
