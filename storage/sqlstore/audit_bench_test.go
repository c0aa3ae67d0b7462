package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// benchmarkAuditWrite measures chained, durable writes from concurrent
// callers (4 and 32 per CPU), as the server's request handlers make them:
// each caller waits for its event's batch to commit.
func benchmarkAuditWrite(b *testing.B, db *sqlstore.DB) {
	for _, p := range []int{4, 32} {
		b.Run(fmt.Sprintf("callers=%dxCPU", p), func(b *testing.B) { benchmarkAuditWriteP(b, db, p) })
	}
}

func benchmarkAuditWriteP(b *testing.B, db *sqlstore.DB, parallelism int) {
	l := newAuditLog(b, db, sqlstore.AuditOptions{})
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Write(ctx, testEvent(int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if batches, events := sqlstore.AuditBatches(l); batches > 0 {
		b.ReportMetric(float64(events)/float64(batches), "events/batch")
	}
}

func BenchmarkAuditWriteSQLite(b *testing.B) {
	benchmarkAuditWrite(b, migrated(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db")))
}

func BenchmarkAuditWritePostgres(b *testing.B) {
	benchmarkAuditWrite(b, migrated(b, testenv.Postgres(b)))
}

// BenchmarkAuditVerify1M times Verify over one million stored rows. Loading
// them takes a while, so it runs only when -bench selects it.
func BenchmarkAuditVerify1M(b *testing.B) {
	const n = 1_000_000
	recs := chainRecords(n)
	for _, d := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "verify.db") }},
		{"postgres", func(b *testing.B) string { return testenv.Postgres(b) }},
	} {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			db := migrated(b, d.url(b))
			if err := sqlstore.InsertAuditRecords(ctx, db, recs); err != nil {
				b.Fatal(err)
			}
			l := newAuditLog(b, db, sqlstore.AuditOptions{})
			for b.Loop() {
				rep, err := l.Verify(ctx, nil)
				if err != nil || !rep.OK || rep.Checked != n {
					b.Fatalf("Verify = %+v, %v", rep, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
