package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

func TestProcessingStore(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		db, n := open(t), 0
		mediatest.TestProcessingStore(t, func(t *testing.T) mediatest.ProcessingFixture {
			n++
			return mediatest.ProcessingFixture{Store: db.Media(), Processing: db.Processing(),
				Alice: mediaUser(t, db, fmt.Sprintf("palice%d", n)), Bob: mediaUser(t, db, fmt.Sprintf("pbob%d", n))}
		})
	})
}

// TestJobs gives every subtest a database of its own: workers run every queued job, and
// another subtest's would reach the wrong handler.
func TestJobs(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		mediatest.TestJobs(t, func(t *testing.T) mediatest.JobsFixture {
			db := open(t)
			return mediatest.JobsFixture{Store: db.Media(), Processing: db.Processing(),
				Alice: mediaUser(t, db, "jalice"), Bob: mediaUser(t, db, "jbob"),
				Open: func(t *testing.T, h media.JobHandler) media.Jobs { return startJobs(t, db, h) }}
		})
	})
}

// startJobs starts Jobs on db running h with 4 workers, 2 per user, stopped at the end.
func startJobs(t testing.TB, db *sqlstore.DB, h media.JobHandler) *sqlstore.Jobs {
	t.Helper()
	jobs, err := db.Jobs(sqlstore.JobsOptions{Handler: h, Workers: 4, PerUser: 2, Snooze: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := jobs.Stop(t.Context()); err != nil {
			t.Error(err)
		}
	})
	return jobs
}
