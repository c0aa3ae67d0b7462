package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/redis/rueidis"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// Environment variables read by this package.
const (
	EnvPostgresURL        = "TLDW_TEST_POSTGRES_URL"
	EnvRedisURL           = "TLDW_TEST_REDIS_URL"
	EnvRequireIntegration = "TLDW_REQUIRE_INTEGRATION"
)

const (
	postgresImage  = "postgres:16-alpine"
	redisImage     = "redis:7-alpine"
	startTimeout   = 3 * time.Minute
	cleanupTimeout = 30 * time.Second
)

// Containers are started at most once per test binary; testcontainers' reaper
// removes them when the binary exits. Package state is acceptable here: this
// is test infrastructure, and these only memoise one start attempt each.
var (
	postgresContainer = sync.OnceValues(startPostgres)
	redisContainer    = sync.OnceValues(startRedis)
)

// RequireIntegration reports whether TLDW_REQUIRE_INTEGRATION=1, in which case
// a test that cannot reach PostgreSQL or Redis fails instead of skipping.
func RequireIntegration() bool { return os.Getenv(EnvRequireIntegration) == "1" }

// unavailable skips the test because no server could be started, or fails it
// when integration is required.
func unavailable(tb testing.TB, env string, err error) {
	tb.Helper()
	if RequireIntegration() {
		tb.Fatalf("testenv: %s unset, no container, and %s=1: %v", env, EnvRequireIntegration, err)
	}
	tb.Skipf("testenv: skipping: set %s or start Docker (%v)", env, err)
}

// Postgres returns the URL of a fresh, empty database (named tldw_t_<hex>) for
// this test, dropped with WITH (FORCE) at cleanup. The server comes from
// TLDW_TEST_POSTGRES_URL (a superuser URL; its database is used only to
// connect), else from a container. It skips or fails the test when no server
// is available, and fails it when the server refuses. Safe for parallel tests.
func Postgres(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvPostgresURL)
	if admin == "" {
		var err error
		if admin, err = postgresContainer(); err != nil {
			unavailable(tb, EnvPostgresURL, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("testenv: %s must be a postgres:// URL (parse error: %v)", EnvPostgresURL, err)
	}
	name := "tldw_t_" + randomHex(tb, 8)

	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := execAdmin(ctx, admin, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testenv: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := execAdmin(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// execAdmin runs one statement on a short-lived connection to the admin URL.
func execAdmin(ctx context.Context, adminURL, stmt string) error {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// Redis returns a Redis URL and a key prefix ("tldwtest:<hex>:") unique to
// this test; keys under the prefix are deleted at cleanup. The server comes
// from TLDW_TEST_REDIS_URL, else from a container. It skips or fails the test
// when no server is available, and fails it when the server refuses. Safe for
// parallel tests.
func Redis(tb testing.TB) (redisURL, prefix string) {
	tb.Helper()
	redisURL = os.Getenv(EnvRedisURL)
	if redisURL == "" {
		var err error
		if redisURL, err = redisContainer(); err != nil {
			unavailable(tb, EnvRedisURL, err)
		}
	}
	opt, err := rueidis.ParseURL(redisURL)
	if err != nil {
		tb.Fatalf("testenv: %s: %v", EnvRedisURL, err)
	}
	opt.DisableCache = true
	client, err := rueidis.NewClient(opt)
	if err != nil {
		tb.Fatalf("testenv: connect to redis: %v", err)
	}
	prefix = "tldwtest:" + randomHex(tb, 8) + ":"
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deletePrefix(ctx, client, prefix); err != nil {
			tb.Errorf("testenv: delete redis keys %s*: %v", prefix, err)
		}
	})
	return redisURL, prefix
}

// deletePrefix removes every key starting with prefix (which holds no glob
// characters) using SCAN, so it never blocks the server.
func deletePrefix(ctx context.Context, c rueidis.Client, prefix string) error {
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				return err
			}
		}
		if e.Cursor == 0 {
			return nil
		}
		cursor = e.Cursor
	}
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("testenv: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// startPostgres starts the shared PostgreSQL container and returns its
// superuser URL. It fails fast when Docker is not available.
func startPostgres() (u string, err error) {
	defer recoverDocker(&err)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := postgres.Run(ctx, postgresImage, postgres.BasicWaitStrategies())
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	return c.ConnectionString(ctx, "sslmode=disable")
}

// startRedis starts the shared Redis container and returns its URL.
func startRedis() (u string, err error) {
	defer recoverDocker(&err)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := tcredis.Run(ctx, redisImage)
	if err != nil {
		return "", fmt.Errorf("start redis container: %w", err)
	}
	return c.ConnectionString(ctx)
}

// recoverDocker turns a panic inside testcontainers (some Docker discovery
// paths panic when no daemon exists) into an error, so tests skip cleanly.
func recoverDocker(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("docker: %v", r)
	}
}
