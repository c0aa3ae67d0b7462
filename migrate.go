package tldw

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tldw-go/tldw/storage/sqlstore"
)

// MigrationStatus lists the applied and pending schema migrations of a database.
type MigrationStatus struct {
	Dialect          string
	Applied, Pending []string
}

// Migrate applies the pending migrations to the database cfg names and returns their names.
// It is what `tldwd migrate up` runs; Open does the same unless TLDW_AUTO_MIGRATE=false.
func Migrate(ctx context.Context, cfg Config, logger *slog.Logger) ([]string, error) {
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Migrate(ctx)
}

// Migrations reports the migration status of the database cfg names without changing it.
func Migrations(ctx context.Context, cfg Config, logger *slog.Logger) (MigrationStatus, error) {
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return MigrationStatus{}, err
	}
	defer db.Close()
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return MigrationStatus{}, err
	}
	return MigrationStatus{Dialect: db.Dialect(), Applied: st.Applied, Pending: st.Pending}, nil
}

func openDB(ctx context.Context, cfg Config, logger *slog.Logger) (*sqlstore.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.ResolvedDatabaseURL(), sqlstore.Options{
		PoolSize: cfg.DatabasePoolSize, MaxOverflow: cfg.DatabaseMaxOverflow, MinConns: cfg.DatabasePoolMinSize,
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("tldw: open database: %w", err)
	}
	return db, nil
}
