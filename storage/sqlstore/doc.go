// Package sqlstore is the relational storage adapter of tldw, built on
// github.com/uptrace/bun for two dialects: SQLite (modernc.org/sqlite, pure Go,
// the single-node default) and PostgreSQL (github.com/jackc/pgx/v5).
//
// Open chooses the dialect from a DATABASE_URL:
//
//	sqlite:PATH              file database, PATH relative to the working directory or absolute
//	sqlite:///PATH           SQLAlchemy form: sqlite:///./x.db is relative, sqlite:////abs/x.db absolute
//	sqlite::memory:          private in-memory database (one connection)
//	postgres://... postgresql://...
//
// SQLite connections run with foreign keys on, WAL journaling, a 10 s busy
// timeout, synchronous=NORMAL and BEGIN IMMEDIATE transactions, so writers
// queue instead of failing.
//
// # Migrations
//
// The schema is managed by versioned SQL migrations embedded from
// migrations/sqlite and migrations/postgres, one file set per dialect with the
// same versions in both. To change the schema, add a file to each folder;
// nothing else needs to change:
//
//	migrations/sqlite/20261201000000_users.tx.up.sql
//	migrations/postgres/20261201000000_users.tx.up.sql
//
// Names are <14-digit UTC timestamp>_<lower_snake_name>. A ".tx.up.sql" file
// runs in one transaction (preferred: a failed migration leaves nothing
// behind); a plain ".up.sql" file runs statement by statement without a
// transaction, for statements that cannot run in one (CREATE INDEX
// CONCURRENTLY, SQLite PRAGMA foreign_keys). Optional ".down.sql" /
// ".tx.down.sql" files describe the reverse. Separate statements with a line
// "--bun:split" only in plain files that need it; both drivers accept several
// statements in one Exec. Avoid a literal "?" in migration SQL: bun treats it
// as a placeholder.
//
// [DB.Migrate] applies pending migrations; bookkeeping lives in the tables
// tldw_migrations and tldw_migration_locks. On PostgreSQL it first creates the
// uuid-ossp and pg_trgm extensions when the role may, and serialises
// concurrent callers (several replicas starting at once) with a transaction
// advisory lock.
package sqlstore
