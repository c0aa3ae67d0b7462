package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// execAll runs statements on a connection of its own to url.
func execAll(t *testing.T, url string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func dbName(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Path, "/")
}

// With standard_conforming_strings off for the database, bun's interpolated strings would
// let a backslash escape the closing quote. Open pins the setting on every connection.
func TestPostgresPinsStandardConformingStrings(t *testing.T) {
	u := testenv.Postgres(t)
	execAll(t, u, "ALTER DATABASE "+dbName(t, u)+" SET standard_conforming_strings = off")

	ctx := context.Background()
	raw, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	var setting string
	if err := raw.QueryRow(ctx, "SHOW standard_conforming_strings").Scan(&setting); err != nil || setting != "off" {
		t.Fatalf("test setup: a plain connection sees standard_conforming_strings=%q (%v), want off", setting, err)
	}
	if err := sqlstore.CheckConformingStrings(ctx, raw); err == nil || !strings.Contains(err.Error(), "standard_conforming_strings=off") {
		t.Errorf("check on a connection with the setting off = %v, want a refusal", err)
	}

	db := open(t, u, sqlstore.Options{PoolSize: 3, MinConns: 2})
	for range 3 { // several pooled connections
		if err := db.Bun().NewRaw("SHOW standard_conforming_strings").Scan(ctx, &setting); err != nil || setting != "on" {
			t.Fatalf("pooled connection: standard_conforming_strings=%q (%v), want on", setting, err)
		}
	}
	for _, v := range []string{`a\'b`, `x\' OR 1=1 --`, `\\'; SELECT 1; --`, `tab\there`} {
		var got string
		if err := db.Bun().NewRaw("SELECT ?::text", v).Scan(ctx, &got); err != nil || got != v {
			t.Errorf("round trip of %q = %q, %v", v, got, err)
		}
	}
	if st := db.Stats(); st.MaxOpenConnections != 3 {
		t.Errorf("MaxOpenConnections = %d, want 3", st.MaxOpenConnections)
	}
}

// On PostgreSQL 15+ GRANT ALL PRIVILEGES ON DATABASE leaves the role without CREATE on
// schema public; Migrate says which statement fixes it.
func TestPostgresMigrateNamesMissingSchemaGrant(t *testing.T) {
	u := testenv.Postgres(t)
	name := dbName(t, u)
	role := "tldw_t_role_" + name[len("tldw_t_"):]
	execAll(t, u,
		"CREATE ROLE "+role+" LOGIN PASSWORD 'pw'",
		"GRANT ALL PRIVILEGES ON DATABASE "+name+" TO "+role,
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
	)
	t.Cleanup(func() {
		execAll(t, u, "REASSIGN OWNED BY "+role+" TO CURRENT_USER", "DROP OWNED BY "+role)
		p, _ := url.Parse(u)
		p.Path = "/postgres"
		execAll(t, p.String(), "DROP ROLE IF EXISTS "+role)
	})
	p, _ := url.Parse(u)
	p.User = url.UserPassword(role, "pw")
	db := open(t, p.String(), sqlstore.Options{PoolSize: 2})
	_, err := db.Migrate(context.Background())
	want := "GRANT CREATE ON SCHEMA public TO " + role + "; or make the role own the database: ALTER DATABASE " + name + " OWNER TO " + role + ";"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Migrate = %v, want an error containing %q", err, want)
	}

	// The statement the message names fixes it.
	execAll(t, u, "GRANT CREATE ON SCHEMA public TO "+role)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate after the GRANT: %v", err)
	}
}

// The SQLite database and its -wal/-shm files are 0600 in a 0700 directory, whatever the
// umask.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "tldw.db")
	db := open(t, "sqlite:"+path, sqlstore.Options{})
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, 0o700)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(t, f, 0o600)
	}

	// An existing database created by an older version loses its group/other bits.
	old2 := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(old2, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, "sqlite:"+old2, sqlstore.Options{})
	checkMode(t, old2, 0o600)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}
