package testenv_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/tldw-go/tldw/internal/testenv"
)

func TestPostgresGivesFreshDatabasesAndDropsThem(t *testing.T) {
	ctx := context.Background()
	var first string
	ran := false
	t.Run("use", func(t *testing.T) {
		a, b := testenv.Postgres(t), testenv.Postgres(t)
		if a == b {
			t.Fatalf("two calls returned the same URL %q", a)
		}
		dbA, dbB := open(t, a), open(t, b)
		if _, err := dbA.ExecContext(ctx, "CREATE TABLE only_in_a (id int)"); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := dbB.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "tldw_t_") {
			t.Errorf("database name %q, want prefix tldw_t_", name)
		}
		var n int
		if err := dbB.QueryRowContext(ctx,
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("second database has %d tables, want an empty database", n)
		}
		first = a
		ran = true
	})
	if !ran {
		return // skipped: no PostgreSQL
	}
	db, err := sql.Open("pgx", first)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("database still reachable after cleanup: ping error %v", err)
	}
}

func TestRedisPrefixIsUniqueAndCleanedUp(t *testing.T) {
	ctx := context.Background()
	var url, key string
	t.Run("use", func(t *testing.T) {
		u1, p1 := testenv.Redis(t)
		_, p2 := testenv.Redis(t)
		if p1 == p2 || !strings.HasPrefix(p1, "tldwtest:") || !strings.HasSuffix(p1, ":") {
			t.Fatalf("prefixes %q and %q: want distinct tldwtest:<hex>:", p1, p2)
		}
		c := client(t, u1)
		key = p1 + "k"
		if err := c.Do(ctx, c.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		url = u1
	})
	if url == "" {
		return // skipped: no Redis
	}
	c := client(t, url)
	n, err := c.Do(ctx, c.B().Exists().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("key %q survived cleanup", key)
	}
}

func TestRequireIntegration(t *testing.T) {
	t.Setenv(testenv.EnvRequireIntegration, "1")
	if !testenv.RequireIntegration() {
		t.Error("RequireIntegration() = false with TLDW_REQUIRE_INTEGRATION=1")
	}
	t.Setenv(testenv.EnvRequireIntegration, "0")
	if testenv.RequireIntegration() {
		t.Error("RequireIntegration() = true with TLDW_REQUIRE_INTEGRATION=0")
	}
}

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // registered after Postgres's, so runs before the drop
	return db
}

func client(t *testing.T, url string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
