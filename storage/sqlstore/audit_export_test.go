package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/audit"
)

// Test access to AuditLog internals. Hooks must be set before the first Write.

// SetAuditBatchHook makes l call f with the size of each batch before committing it.
func SetAuditBatchHook(l *AuditLog, f func(n int)) { l.batchHook = f }

// SetAuditPurgeChunk sets how many rows one purge transaction removes.
func SetAuditPurgeChunk(l *AuditLog, n int64) { l.purgeRows = n }

// AuditQueued reports how many events wait for the committer.
func AuditQueued(l *AuditLog) int { return len(l.reqs) }

// AuditBatches reports the batches and events committed so far.
func AuditBatches(l *AuditLog) (batches, events int64) { return l.batches.Load(), l.events.Load() }

// InsertAuditRecords bulk-inserts already chained records in one transaction,
// 1000 rows per statement, and moves the chain head to the last one.
func InsertAuditRecords(ctx context.Context, db *DB, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if db.dialect == dialectPostgres {
		return copyAuditRecords(ctx, db, recs)
	}
	l := &AuditLog{db: db}
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		const chunk = 1000
		rows := make([]auditRow, 0, chunk)
		for start := 0; start < len(recs); start += chunk {
			rows = rows[:0]
			for _, r := range recs[start:min(start+chunk, len(recs))] {
				d, err := encodeDetails(r.Event.Details)
				if err != nil {
					return err
				}
				rows = append(rows, auditRow{rec: r, details: d})
			}
			if err := l.insertRows(ctx, tx, rows); err != nil {
				return err
			}
		}
		last := recs[len(recs)-1]
		return setHead(ctx, tx, last.Seq, last.Hash)
	})
}

// copyAuditRecords loads records with COPY on PostgreSQL, which is several
// times faster than INSERT for large test tables.
func copyAuditRecords(ctx context.Context, db *DB, recs []audit.Record) error {
	conn, err := db.bun.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	cols := strings.Split(strings.ReplaceAll(strings.TrimPrefix(
		strings.TrimSuffix(auditInsert, ") VALUES "), "INSERT INTO audit_log ("), " ", ""), ",")
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		i := 0
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(recs) {
				return nil, nil
			}
			r := recs[i]
			i++
			e := &r.Event
			d, err := encodeDetails(e.Details)
			if err != nil {
				return nil, err
			}
			var user any
			if e.UserID != 0 {
				user = e.UserID
			}
			return []any{r.Seq, user, nullText(e.Username), e.Action, nullText(e.TargetType),
				nullText(e.TargetID), nullText(e.IP), nullText(e.UserAgent), nullText(e.RequestID),
				nullText(e.Method), nullText(e.Path), e.Success, nullText(e.Error), d,
				e.Time.UTC(), r.PrevHash, r.Hash}, nil
		}))
		if err != nil {
			return err
		}
		if n != int64(len(recs)) {
			return fmt.Errorf("copied %d of %d rows", n, len(recs))
		}
		last := recs[len(recs)-1]
		if _, err := tx.Exec(ctx, "UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1", last.Seq, last.Hash); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}
