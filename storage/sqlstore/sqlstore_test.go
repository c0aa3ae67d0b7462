package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

func open(t *testing.T, url string, o sqlstore.Options) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url, o)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestOpenSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url, file string // file: the database file Open must create ("" for memory)
	}{
		{"path", "sqlite:" + filepath.Join(dir, "a.db"), filepath.Join(dir, "a.db")},
		{"sqlalchemy absolute", "sqlite:///" + filepath.Join(dir, "b.db"), filepath.Join(dir, "b.db")},
		{"missing parent dirs", "sqlite:" + filepath.Join(dir, "x", "y", "c.db"), filepath.Join(dir, "x", "y", "c.db")},
		{"percent in name", "sqlite:" + filepath.Join(dir, "50%.db"), filepath.Join(dir, "50%.db")},
		{"memory", "sqlite::memory:", ""},
		{"sqlalchemy memory", "sqlite://", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t, tt.url, sqlstore.Options{})
			if got := db.Dialect(); got != "sqlite" {
				t.Errorf("Dialect() = %q, want sqlite", got)
			}
			if err := db.Ping(context.Background()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if tt.file == "" {
				return
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Errorf("database file not created: %v", err)
			}
		})
	}
	fi, err := os.Stat(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode %o, want 700", perm)
	}
}

func TestOpenSQLiteRelativePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	open(t, "sqlite:///./Databases/users.db", sqlstore.Options{})
	open(t, "sqlite:plain.db", sqlstore.Options{})
	for _, f := range []string{"Databases/users.db", "plain.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not created relative to the working directory: %v", f, err)
		}
	}
}

func TestOpenInvalid(t *testing.T) {
	tests := []struct {
		name, url string
		o         sqlstore.Options
	}{
		{"empty", "", sqlstore.Options{}},
		{"unknown scheme", "mysql://u@h/db", sqlstore.Options{}},
		{"bare path", "/var/lib/tldw.db", sqlstore.Options{}},
		{"sqlite empty path", "sqlite:", sqlstore.Options{}},
		{"sqlite empty sqlalchemy path", "sqlite:///", sqlstore.Options{}},
		{"sqlite with host", "sqlite://host/x.db", sqlstore.Options{}},
		{"sqlite query", "sqlite:x.db?mode=ro", sqlstore.Options{}},
		{"postgres bad port", "postgres://u:s3cretpw@h:notaport/db", sqlstore.Options{}},
		{"negative pool", "sqlite::memory:", sqlstore.Options{PoolSize: -1}},
		{"negative overflow", "sqlite::memory:", sqlstore.Options{MaxOverflow: -1}},
		{"postgres pool of one", "postgres://u@127.0.0.1:1/db", sqlstore.Options{PoolSize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), tt.url, tt.o)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want ErrInvalid", tt.url)
			}
			if !errors.Is(err, sqlstore.ErrInvalid) {
				t.Errorf("Open(%q) = %v, want ErrInvalid", tt.url, err)
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestOpenUnreachablePostgresIsNotInvalid(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // fail the ping at once, whatever listens on the port
	_, err := sqlstore.Open(ctx, "postgres://u@127.0.0.1:1/db?connect_timeout=1", sqlstore.Options{})
	if err == nil || errors.Is(err, sqlstore.ErrInvalid) {
		t.Errorf("Open = %v, want a connection error that is not ErrInvalid", err)
	}
}

// pragma reads one PRAGMA value on each of n simultaneously held connections,
// so every pooled connection is checked, not just the first.
func pragma(t *testing.T, db *sqlstore.DB, name string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var vals []string
	for range n {
		c, err := db.Bun().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var v string
		if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		vals = append(vals, v)
	}
	return vals
}

func TestSQLitePragmas(t *testing.T) {
	file := open(t, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), sqlstore.Options{})
	mem := open(t, "sqlite::memory:", sqlstore.Options{})
	tests := []struct {
		db          *sqlstore.DB
		conns       int
		name, want  string
		description string
	}{
		{file, 3, "journal_mode", "wal", "file"},
		{file, 3, "foreign_keys", "1", "file"},
		{file, 3, "busy_timeout", "10000", "file"},
		{file, 3, "synchronous", "1", "file"},
		{mem, 1, "foreign_keys", "1", "memory"},
		{mem, 1, "busy_timeout", "10000", "memory"},
	}
	for _, tt := range tests {
		for i, got := range pragma(t, tt.db, tt.name, tt.conns) {
			if got != tt.want {
				t.Errorf("%s conn %d: PRAGMA %s = %q, want %q", tt.description, i, tt.name, got, tt.want)
			}
		}
	}

	// Foreign keys are enforced, not just reported.
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id))",
	} {
		if _, err := file.Bun().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := file.Bun().ExecContext(ctx, "INSERT INTO child (id, parent_id) VALUES (1, 42)"); err == nil {
		t.Error("insert violating a foreign key succeeded")
	}
}

func TestSQLiteMemoryIsOneDatabase(t *testing.T) {
	db := open(t, "sqlite::memory:", sqlstore.Options{})
	ctx := context.Background()
	if _, err := db.Bun().ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := db.Bun().ExecContext(ctx, "INSERT INTO t (x) VALUES (?)", i)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.Bun().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("count = %d, want 8 (all connections must share one in-memory database)", n)
	}
}

func TestPoolLimits(t *testing.T) {
	if got := open(t, "sqlite::memory:", sqlstore.Options{PoolSize: 10}).Stats().MaxOpenConnections; got != 1 {
		t.Errorf("sqlite memory MaxOpenConnections = %d, want 1", got)
	}
	if got := open(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{}).Stats().MaxOpenConnections; got < 2 || got > 8 {
		t.Errorf("sqlite file MaxOpenConnections = %d, want 2..8", got)
	}
	pg := testenv.Postgres(t)
	if got := open(t, pg, sqlstore.Options{PoolSize: 3, MaxOverflow: 2}).Stats().MaxOpenConnections; got != 5 {
		t.Errorf("postgres MaxOpenConnections = %d, want PoolSize+MaxOverflow = 5", got)
	}
	if got := open(t, pg, sqlstore.Options{}).Stats().MaxOpenConnections; got != 20 {
		t.Errorf("postgres default MaxOpenConnections = %d, want 20", got)
	}
}

func TestOpenPostgresSchemes(t *testing.T) {
	pg := testenv.Postgres(t)
	for _, u := range []string{pg, "postgresql" + strings.TrimPrefix(pg, "postgres")} {
		db := open(t, u, sqlstore.Options{})
		if got := db.Dialect(); got != "postgres" {
			t.Errorf("Open(%s).Dialect() = %q, want postgres", u[:strings.Index(u, ":")], got)
		}
	}
}

// embedded lists the migrations in a dialect folder, as Migrate names them.
func embedded(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", dialect))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".up.sql"); ok {
			names = append(names, strings.TrimSuffix(name, ".tx"))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no migrations in migrations/%s", dialect)
	}
	slices.Sort(names)
	return names
}

func TestMigrationFilesMatchAcrossDialects(t *testing.T) {
	re := regexp.MustCompile(`^\d{14}_[a-z0-9_]+(\.tx)?\.(up|down)\.sql$`)
	for _, d := range []string{"sqlite", "postgres"} {
		entries, err := os.ReadDir(filepath.Join("migrations", d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !re.MatchString(e.Name()) {
				t.Errorf("migrations/%s/%s: want <14-digit version>_<name>[.tx].(up|down).sql", d, e.Name())
			}
		}
	}
	if s, p := embedded(t, "sqlite"), embedded(t, "postgres"); !slices.Equal(s, p) {
		t.Errorf("dialects differ:\nsqlite   %v\npostgres %v", s, p)
	}
}

// testMigrate checks a fresh database: everything pending, Migrate applies it
// all, status is current, and a re-run is a no-op.
func testMigrate(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	want := append(embedded(t, db.Dialect()), sqlstore.RiverMigrations(db.Dialect())...)

	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Applied) != 0 || !slices.Equal(st.Pending, want) || st.Current {
		t.Fatalf("fresh status = %+v, want all of %v pending", st, want)
	}

	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if !slices.Equal(applied, want) {
		t.Errorf("Migrate applied %v, want %v", applied, want)
	}

	st, err = db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Applied, want) || len(st.Pending) != 0 || !st.Current {
		t.Errorf("status after Migrate = %+v, want all of %v applied", st, want)
	}

	again, err := db.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing applied", again, err)
	}

	// The first migration's table works.
	if _, err := db.Bun().NewRaw("INSERT INTO tldw_meta (key, value) VALUES (?, ?)", "k", "v").Exec(ctx); err != nil {
		t.Errorf("insert into tldw_meta: %v", err)
	}
}

func TestMigrateSQLiteFile(t *testing.T) {
	testMigrate(t, open(t, "sqlite:"+filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{}))
}

func TestMigrateSQLiteMemory(t *testing.T) {
	testMigrate(t, open(t, "sqlite::memory:", sqlstore.Options{}))
}

func TestMigratePostgres(t *testing.T) {
	var logs bytes.Buffer
	db := open(t, testenv.Postgres(t), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	testMigrate(t, db)
	if !strings.Contains(logs.String(), "applied database migration") {
		t.Errorf("no migration logged; logs:\n%s", logs.String())
	}
	// As a superuser Migrate creates the extensions the deployment guide asks for.
	for _, ext := range []string{"uuid-ossp", "pg_trgm"} {
		var available, installed bool
		err := db.Bun().QueryRowContext(context.Background(),
			"SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ?), EXISTS (SELECT 1 FROM pg_extension WHERE extname = ?)",
			ext, ext).Scan(&available, &installed)
		if err != nil {
			t.Fatal(err)
		}
		if available && !installed {
			t.Errorf("extension %s available but not created", ext)
		}
	}
}

func TestMigrateConcurrentPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	want := append(embedded(t, "postgres"), sqlstore.RiverMigrations("postgres")...)
	dbs := []*sqlstore.DB{open(t, url, sqlstore.Options{}), open(t, url, sqlstore.Options{})}
	var (
		mu  sync.Mutex
		all []string
		wg  sync.WaitGroup
	)
	for i := range 6 { // several callers per *DB and across two pools
		wg.Go(func() {
			applied, err := dbs[i%2].Migrate(context.Background())
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			mu.Lock()
			all = append(all, applied...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	if !slices.Equal(all, want) {
		t.Errorf("migrations applied across callers = %v, want each of %v exactly once", all, want)
	}
	var rows int
	if err := dbs[0].Bun().QueryRowContext(context.Background(), "SELECT (SELECT count(*) FROM tldw_migrations) + (SELECT count(*) FROM river_migration)").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(want) {
		t.Errorf("tldw_migrations has %d rows, want %d", rows, len(want))
	}
}

// TestMigratePostgresWithoutExtensionPrivilege runs Migrate as a role that
// may create tables but not extensions: the extensions are skipped with a
// warning and the migrations still apply.
func TestMigratePostgresWithoutExtensionPrivilege(t *testing.T) {
	ctx := context.Background()
	admin := open(t, testenv.Postgres(t), sqlstore.Options{})
	role := "tldw_t_role_" + strings.TrimPrefix(pathOf(t, admin), "tldw_t_")
	const password = "pw-for-test"
	if _, err := admin.Bun().ExecContext(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Bun().ExecContext(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role: %v", err)
		}
	})

	t.Run("migrate", func(t *testing.T) { // its database is dropped before the role
		work := testenv.Postgres(t)
		super := open(t, work, sqlstore.Options{})
		if _, err := super.Bun().ExecContext(ctx, "GRANT USAGE, CREATE ON SCHEMA public TO "+role); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(work)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(role, password)
		var logs bytes.Buffer
		db := open(t, u.String(), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate as unprivileged role: %v", err)
		}
		if want := append(embedded(t, "postgres"), sqlstore.RiverMigrations("postgres")...); !slices.Equal(applied, want) {
			t.Errorf("applied %v, want %v", applied, want)
		}
		for _, ext := range []string{"uuid-ossp", "pg_trgm"} {
			var installed bool
			if err := db.Bun().QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = ?)", ext).Scan(&installed); err != nil {
				t.Fatal(err)
			}
			if !installed && !strings.Contains(logs.String(), "extension="+ext) {
				t.Errorf("extension %s neither created nor warned about; logs:\n%s", ext, logs.String())
			}
		}
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("no warning logged for the refused extensions; logs:\n%s", logs.String())
		}
	})
}

// pathOf returns the current database name.
func pathOf(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var name string
	if err := db.Bun().QueryRowContext(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestMigrationStatusReportsUnknownAppliedMigrations(t *testing.T) {
	ctx := context.Background()
	db := open(t, "sqlite::memory:", sqlstore.Options{})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bun().ExecContext(ctx, "INSERT INTO tldw_migrations (name, group_id) VALUES ('29991231000000', 99)"); err != nil {
		t.Fatal(err)
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(embedded(t, "sqlite"), "29991231000000"), sqlstore.RiverMigrations("sqlite")...)
	if !slices.Equal(st.Applied, want) || !st.Current {
		t.Errorf("status = %+v, want applied %v and current", st, want)
	}
}

func TestNewWrapsEmbedderPool(t *testing.T) {
	sqldb, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	sqldb.SetMaxOpenConns(1)
	bdb := bun.NewDB(sqldb, sqlitedialect.New())
	defer bdb.Close()

	db := sqlstore.New(bdb, nil)
	if db.Dialect() != "sqlite" || db.Bun() != bdb {
		t.Fatalf("New: Dialect() = %q, Bun() same = %v", db.Dialect(), db.Bun() == bdb)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Ping(); err != nil {
		t.Errorf("Close closed the embedder's pool: %v", err)
	}
}
