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
	// PoolSize is the number of connections kept idle (DATABASE_POOL_SIZE).
	// 0 means 20 on PostgreSQL; SQLite sizes its own pool and ignores it.
	PoolSize int
	// MaxOverflow is the number of extra connections allowed above PoolSize
	// (DATABASE_MAX_OVERFLOW); PostgreSQL opens at most PoolSize+MaxOverflow,
	// which must be at least 2.
	MaxOverflow int
	// Logger receives warnings and migration progress; nil discards them.
	Logger *slog.Logger
}

// DB is a connection pool to one SQLite or PostgreSQL database plus its
// migrations. It is safe for concurrent use.
type DB struct {
	bun     *bun.DB
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
	if o.PoolSize < 0 || o.MaxOverflow < 0 {
		return nil, fmt.Errorf("%w: pool size and max overflow must not be negative", ErrInvalid)
	}
	var (
		bdb     *bun.DB
		dialect string
		err     error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		dialect = dialectSQLite
		bdb, err = openSQLite(url)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dialect = dialectPostgres
		bdb, err = openPostgres(url, o)
	default:
		scheme, _, _ := strings.Cut(url, ":")
		return nil, fmt.Errorf("%w: database url scheme %q: want sqlite:, postgres:// or postgresql://", ErrInvalid, scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := bdb.PingContext(ctx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("sqlstore: ping %s: %w", dialect, err)
	}
	db := New(bdb, o.Logger)
	db.owned = true
	return db, nil
}

// New wraps a pool the embedder already owns. Close on the result does not
// close db; the embedder does. Migrate returns an error for a dialect other
// than SQLite or PostgreSQL.
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

func openPostgres(url string, o Options) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	size := o.PoolSize
	if size == 0 {
		size = defaultPoolSize
	}
	if size+o.MaxOverflow < minPostgresConns {
		return nil, fmt.Errorf("%w: postgres needs pool size + max overflow >= %d", ErrInvalid, minPostgresConns)
	}
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(size + o.MaxOverflow)
	sqldb.SetMaxIdleConns(size)
	sqldb.SetConnMaxIdleTime(postgresIdleLimit)
	return bun.NewDB(sqldb, pgdialect.New()), nil
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
func (db *DB) Stats() sql.DBStats { return db.bun.Stats() }

// Close closes the pool if Open created it; for a DB from New it does nothing,
// since the embedder owns the pool. Queries in flight finish first.
func (db *DB) Close() error {
	if !db.owned {
		return nil
	}
	if err := db.bun.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// Bun returns the underlying *bun.DB, for store implementations in this
// package and for embedders who need raw access. Prefer DB's methods; the
// result must not be closed.
func (db *DB) Bun() *bun.DB { return db.bun }
