package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names returned by DB.Dialect.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

const (
	defaultPoolSize   = 20              // PostgreSQL base connections when Options.PoolSize is 0
	minPostgresConns  = 2               // Migrate holds one connection for its lock
	sqliteMaxOpen     = 4               // file databases: WAL readers run in parallel, writers queue
	postgresIdleLimit = 5 * time.Minute // close connections idle longer than this

	sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	sqliteWAL = "&_pragma=journal_mode(WAL)"
)

// Options configures the connection pool opened by Open.
type Options struct {
	// PoolSize is the base number of connections (DATABASE_POOL_SIZE).
	// 0 means 20 on PostgreSQL; SQLite sizes its own pool and ignores it.
	PoolSize int
	// MaxOverflow is the number of extra connections allowed above PoolSize
	// (DATABASE_MAX_OVERFLOW); PostgreSQL opens at most PoolSize+MaxOverflow,
	// which must be at least 2.
	MaxOverflow int
	// MinConns is the number of PostgreSQL connections kept open even when
	// idle (DATABASE_POOL_MIN_SIZE), at most PoolSize+MaxOverflow; SQLite
	// ignores it.
	MinConns int
	// Logger receives warnings and migration progress; nil discards them.
	Logger *slog.Logger
}

// DB is a connection pool to one SQLite or PostgreSQL database plus its
// migrations. It is safe for concurrent use.
type DB struct {
	bun     *bun.DB
	pool    *pgxpool.Pool // PostgreSQL pools from Open; nil otherwise
	dialect string
	log     *slog.Logger
	owned   bool       // Close closes the pool (Open) or leaves it to the embedder (New)
	migMu   sync.Mutex // serialises Migrate within this process
}

// Open connects to the database named by url (see the package documentation
// for the accepted forms), configures the pool and pings it. For a SQLite file
// it creates the parent directory (mode 0700) if missing. A malformed url or
// invalid Options yields an error wrapping ErrInvalid; an unreachable database
// yields the driver's error, wrapped. Open does not migrate.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	if o.PoolSize < 0 || o.MaxOverflow < 0 || o.MinConns < 0 {
		return nil, fmt.Errorf("%w: pool sizes must not be negative", ErrInvalid)
	}
	var (
		bdb     *bun.DB
		pool    *pgxpool.Pool
		dialect string
		err     error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		dialect = dialectSQLite
		bdb, err = openSQLite(url)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dialect = dialectPostgres
		bdb, pool, err = openPostgres(ctx, url, o)
	default:
		scheme, _, _ := strings.Cut(url, ":")
		return nil, fmt.Errorf("%w: database url scheme %q: want sqlite:, postgres:// or postgresql://", ErrInvalid, scheme)
	}
	if err != nil {
		return nil, err
	}
	db := New(bdb, o.Logger)
	db.owned, db.pool = true, pool
	if err := bdb.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: ping %s: %w", dialect, err)
	}
	return db, nil
}

// New wraps a pool the embedder already owns. Close on the result does not
// close db; the embedder does. Migrate returns an error for a dialect other
// than SQLite or PostgreSQL. A PostgreSQL pool must run every connection with
// standard_conforming_strings=on (the default), as Open's pools do: bun
// interpolates arguments into the SQL text.
func New(db *bun.DB, logger *slog.Logger) *DB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &DB{bun: db, log: logger}
	switch db.Dialect().Name() {
	case dialect.SQLite:
		d.dialect = dialectSQLite
	case dialect.PG:
		d.dialect = dialectPostgres
	default:
		d.dialect = db.Dialect().Name().String()
	}
	return d
}

// sqlitePath extracts the file path from a sqlite: URL; memory reports the
// in-memory forms (sqlite::memory:, sqlite://, sqlite:///:memory:).
func sqlitePath(url string) (path string, memory bool, err error) {
	rest := strings.TrimPrefix(url, "sqlite:")
	switch {
	case rest == ":memory:" || rest == "//" || rest == "///:memory:":
		return "", true, nil
	case strings.HasPrefix(rest, "///"):
		path = rest[len("///"):]
	case strings.HasPrefix(rest, "//"):
		return "", false, fmt.Errorf("%w: sqlite url must be sqlite:PATH or sqlite:///PATH (no host)", ErrInvalid)
	default:
		path = rest
	}
	if path == "" {
		return "", false, fmt.Errorf("%w: sqlite url has an empty path", ErrInvalid)
	}
	if strings.ContainsAny(path, "?#") {
		return "", false, fmt.Errorf("%w: sqlite url path must not contain '?' or '#' (options are fixed)", ErrInvalid)
	}
	return path, false, nil
}

func openSQLite(url string) (*bun.DB, error) {
	path, memory, err := sqlitePath(url)
	if err != nil {
		return nil, err
	}
	var dsn string
	if memory {
		dsn = "file::memory:?" + sqlitePragmas
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
		}
		if err := privateFiles(path); err != nil {
			return nil, err
		}
		// In a file: URI only '%' needs escaping once '?' and '#' are excluded.
		dsn = "file:" + strings.ReplaceAll(path, "%", "%25") + "?" + sqlitePragmas + sqliteWAL
	}
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	if memory {
		// Every connection to :memory: is a separate database: keep exactly
		// one, forever, so all queries see the same data.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxIdleTime(0)
		sqldb.SetConnMaxLifetime(0)
	} else {
		sqldb.SetMaxOpenConns(sqliteMaxOpen)
		sqldb.SetMaxIdleConns(sqliteMaxOpen)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// openPostgres opens a pgx pool of at most PoolSize+MaxOverflow connections, MinConns of
// them kept open, each with standard_conforming_strings pinned on.
// privateFiles creates the SQLite database file with mode 0600 when it is missing, so that
// SQLite, which gives its -wal and -shm files the mode of the database, creates them 0600
// too; an existing database and its -wal/-shm files lose any group and other permissions.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlstore: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlstore: create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("sqlstore: restrict database file: %w", err)
			}
		}
	}
	return nil
}

func openPostgres(ctx context.Context, url string, o Options) (*bun.DB, *pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	size := o.PoolSize
	if size == 0 {
		size = defaultPoolSize
	}
	if size+o.MaxOverflow < minPostgresConns {
		return nil, nil, fmt.Errorf("%w: postgres needs pool size + max overflow >= %d", ErrInvalid, minPostgresConns)
	}
	if o.MinConns > size+o.MaxOverflow {
		return nil, nil, fmt.Errorf("%w: postgres min connections exceed pool size + max overflow", ErrInvalid)
	}
	cfg.MaxConns, cfg.MinConns = int32(size+o.MaxOverflow), int32(o.MinConns)
	cfg.MaxConnIdleTime = postgresIdleLimit
	cfg.ConnConfig.RuntimeParams["standard_conforming_strings"] = "on"
	cfg.AfterConnect = checkConformingStrings
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	return bun.NewDB(stdlib.OpenDBFromPool(pool), pgdialect.New()), pool, nil
}

// checkConformingStrings refuses a connection on which standard_conforming_strings is not
// on. bun interpolates arguments into the SQL text, escaping quotes the standard way; with
// the setting off a backslash in a value would escape the closing quote and let the rest of
// the value run as SQL. The setting is pinned as a startup parameter, so only a server or
// pooler that ignores it gets here.
func checkConformingStrings(ctx context.Context, c *pgx.Conn) error {
	var v string
	if err := c.QueryRow(ctx, "SHOW standard_conforming_strings").Scan(&v); err != nil {
		return fmt.Errorf("sqlstore: check standard_conforming_strings: %w", err)
	}
	if v != "on" {
		return fmt.Errorf("sqlstore: the server keeps standard_conforming_strings=%s although the connection asks for on; tldw needs it on (check the server, the database settings and any connection pooler in between)", v)
	}
	return nil
}

// Dialect reports "sqlite" or "postgres" (for a pool passed to New with
// another dialect, bun's name for it).
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database is reachable; it returns the driver's error,
// wrapped.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.bun.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// Stats reports the pool statistics (open, in use, idle, waits).
func (db *DB) Stats() sql.DBStats {
	if db.pool == nil {
		return db.bun.Stats()
	}
	s := db.pool.Stat()
	return sql.DBStats{
		MaxOpenConnections: int(s.MaxConns()),
		OpenConnections:    int(s.TotalConns()),
		InUse:              int(s.AcquiredConns()),
		Idle:               int(s.IdleConns()),
		WaitCount:          s.EmptyAcquireCount(),
		WaitDuration:       s.EmptyAcquireWaitTime(),
		MaxIdleTimeClosed:  s.MaxIdleDestroyCount(),
		MaxLifetimeClosed:  s.MaxLifetimeDestroyCount(),
	}
}

// Close closes the pool if Open created it; for a DB from New it does nothing,
// since the embedder owns the pool. Queries in flight finish first.
func (db *DB) Close() error {
	if !db.owned {
		return nil
	}
	err := db.bun.Close()
	if db.pool != nil {
		db.pool.Close() // after bun: the sql.DB hands its connections back first
	}
	if err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// Bun returns the underlying *bun.DB, for store implementations in this
// package and for embedders who need raw access. Prefer DB's methods; the
// result must not be closed.
func (db *DB) Bun() *bun.DB { return db.bun }
