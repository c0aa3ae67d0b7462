package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// TestPruneMediaBudgets: daily budget rows of days before the retention go, today's and
// the retained days' stay, as do other resources and rows holding a reservation.
func TestPruneMediaBudgets(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := open(t)
		now := time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)
		l := db.Ledger(sqlstore.LedgerOptions{Now: func() time.Time { return now }})
		rows := map[quota.Resource]bool{ // resource → kept
			"ocr_pages@2026-11-30":       false,
			"url_fetch_bytes@2026-12-07": false,
			"ocr_pages@2026-12-08":       true,
			"ocr_pages@2026-12-10":       true,
			quota.ResourceStorage:        true,
			"odd@name":                   true,
		}
		for r := range rows {
			if err := l.Add(ctx, "7", r, 5); err != nil {
				t.Fatal(err)
			}
		}
		held := quota.Resource("transcription_seconds@2026-11-01") // a reservation still on it
		rows[held] = true
		if err := l.SetLimit(ctx, "7", held, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reserve(ctx, "7", held, 3, time.Hour); err != nil {
			t.Fatal(err)
		}
		n, err := db.PruneMedia(ctx, now)
		if err != nil || n != 2 {
			t.Fatalf("PruneMedia = %d, %v; want 2 rows", n, err)
		}
		usage, err := l.Usage(ctx, "7")
		if err != nil {
			t.Fatal(err)
		}
		left := map[quota.Resource]bool{}
		for _, u := range usage {
			left[u.Resource] = true
		}
		for r, kept := range rows {
			if left[r] != kept {
				t.Errorf("%s: left %v, want %v", r, left[r], kept)
			}
		}
	})
}

// TestPruneMediaJobLinks: once River's retention deletes a finished job, its media_jobs
// link goes too; the links of jobs River still has stay, and no listing shows a gone job.
func TestPruneMediaJobLinks(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := open(t)
		uid := mediaUser(t, db, "prunejobs")
		jobs, err := db.Jobs(sqlstore.JobsOptions{}) // insert-only
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i, h := range []string{"p1", "p2"} {
			it := &media.Item{UserID: uid, Title: h, MediaType: media.TypeDocument, ContentHash: h, BlobKey: "k/" + h,
				Status: media.StatusStored, Size: int64(i + 1)}
			job, err := jobs.CreateItem(ctx, it, media.ProcessOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, job.ID)
		}
		// River's retention sweep deletes the first job.
		if _, err := db.Bun().ExecContext(ctx, `DELETE FROM river_job WHERE id = ?`, ids[0]); err != nil {
			t.Fatal(err)
		}
		n, err := db.PruneMedia(ctx, time.Now())
		if err != nil || n != 1 {
			t.Fatalf("PruneMedia = %d, %v; want the one dangling link", n, err)
		}
		var links []int64
		if err := db.Bun().NewRaw(`SELECT job_id FROM media_jobs WHERE user_id = ? ORDER BY job_id`, uid).Scan(ctx, &links); err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0] != ids[1] {
			t.Errorf("links left = %v, want [%d]", links, ids[1])
		}
		list, err := jobs.List(ctx, media.JobFilter{UserID: uid})
		if err != nil || len(list) != 1 || list[0].ID != ids[1] {
			t.Errorf("List = %+v, %v; want job %d only", list, err, ids[1])
		}
		if _, err := jobs.Get(ctx, uid, ids[0]); err == nil {
			t.Error("Get of the gone job succeeded")
		}
	})
}
