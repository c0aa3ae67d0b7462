package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// BudgetRetention is how many whole UTC days of daily budget rows PruneMedia keeps before
// the day of its cutoff (a day's rows are read only on that day; a little history helps
// an operator looking at yesterday's use).
const BudgetRetention = 2

// PruneMedia deletes rows of media processing that can no longer matter, so the tables do
// not grow forever; the App runs it hourly:
//   - the quota ledger's daily budget rows (quota.Budget's "ocr_pages@2026-12-02" resources)
//     of days more than BudgetRetention days before now's UTC day, once no reservation is
//     held on them;
//   - media_jobs links whose River job is gone (River deletes finished jobs after their
//     retention period, 7 days), so no item points at a job that no longer exists.
//
// Every replica may run it; the deletes are idempotent. It returns how many rows went, in
// total, and database errors only.
func (db *DB) PruneMedia(ctx context.Context, now time.Time) (int64, error) {
	// The day is the text after the resource's last '@': a fixed-width YYYY-MM-DD, which
	// compares as text in date order.
	cutoff := now.UTC().AddDate(0, 0, -BudgetRetention).Format(time.DateOnly)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM quota_usage WHERE resource LIKE '%@____-__-__' AND reserved = 0
			AND substr(resource, length(resource) - 9) < ?`, []any{cutoff}},
		{`DELETE FROM media_jobs WHERE NOT EXISTS (SELECT 1 FROM river_job r WHERE r.id = media_jobs.job_id)`, nil},
	}
	var total int64
	for _, s := range stmts {
		res, err := db.bun.ExecContext(ctx, s.sql, s.args...)
		if err != nil {
			return total, fmt.Errorf("sqlstore: prune media rows: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlstore: prune media rows: %w", err)
		}
		total += n
	}
	return total, nil
}
