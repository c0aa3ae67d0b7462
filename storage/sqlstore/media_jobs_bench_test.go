package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// BenchmarkJobPickup measures how long an idle worker takes to start a job after the
// transaction that enqueued it commits (LISTEN/NOTIFY on PostgreSQL, River's notification
// table on SQLite), one job at a time, and reports the median and 90th percentile.
//
//	go test ./storage/sqlstore -run '^$' -bench JobPickup -benchtime 50x
func BenchmarkJobPickup(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			url := "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
			if name == "postgres" {
				url = testenv.Postgres(b)
			}
			db, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			uid := mediaUser(b, db, "bench")
			started := make(chan time.Time, 1)
			workers, err := db.Jobs(sqlstore.JobsOptions{Workers: 2, Handler: func(context.Context, media.JobRun) error {
				started <- time.Now()
				return nil
			}}) // default poll interval: pickups come from notifications
			if err != nil {
				b.Fatal(err)
			}
			if err := workers.Start(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { workers.Stop(context.Background()) })
			jobs, err := db.Jobs(sqlstore.JobsOptions{}) // insert-only, like a web replica
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := range b.N {
				it := &media.Item{UserID: uid, Title: "t", MediaType: media.TypeDocument, Size: 1,
					ContentHash: fmt.Sprintf("%064d", i), BlobKey: fmt.Sprintf("%d/bench/%d", uid, i), Status: media.StatusQueued}
				if _, err := jobs.CreateItem(context.Background(), it, media.ProcessOptions{}); err != nil {
					b.Fatal(err)
				}
				committed := time.Now()
				lat = append(lat, (<-started).Sub(committed))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
		})
	}
}
