package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/riverqueue/river/rivermigrate"
)

// River's own schema (river_job, river_leader, ...) is managed by River's migrator, run by
// Migrate after ours (under the same PostgreSQL advisory lock) and reported by
// MigrationStatus as "river_<version>_<name>".

func (db *DB) riverMigrator() (*rivermigrate.Migrator[*sql.Tx], error) {
	drv, err := db.riverDriver()
	if err != nil {
		return nil, err
	}
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(quiet{db.log.Handler()})})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: river migrations: %w", err)
	}
	return m, nil
}

// migrateRiver applies River's pending migrations and returns their labels.
func (db *DB) migrateRiver(ctx context.Context) ([]string, error) {
	m, err := db.riverMigrator()
	if err != nil {
		return nil, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: river migrations: %w", err)
	}
	var names []string
	for _, v := range res.Versions {
		names = append(names, riverLabel(v.Version, v.Name))
		db.log.InfoContext(ctx, "applied database migration", "migration", riverLabel(v.Version, v.Name), "dialect", db.dialect)
	}
	return names, nil
}

// riverStatus lists River's migrations the database has and lacks.
func (db *DB) riverStatus(ctx context.Context) (applied, pending []string, err error) {
	m, err := db.riverMigrator()
	if err != nil {
		return nil, nil, err
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: river migration status: %w", err)
	}
	done := map[int]bool{}
	for _, v := range have {
		done[v.Version] = true
	}
	for _, v := range m.AllVersions() {
		if done[v.Version] {
			applied = append(applied, riverLabel(v.Version, v.Name))
		} else {
			pending = append(pending, riverLabel(v.Version, v.Name))
		}
	}
	return applied, pending, nil
}

// riverLabel names a River migration like ours: "river_<version>_<snake_name>".
func riverLabel(version int, name string) string {
	return fmt.Sprintf("river_%03d_%s", version, strings.ReplaceAll(name, " ", "_"))
}

// quiet passes on only River's warnings and errors: it logs every client start and stop and
// every migration at INFO (Migrate logs the migrations itself).
type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(as)} }

func (q quiet) WithGroup(name string) slog.Handler { return quiet{q.Handler.WithGroup(name)} }
