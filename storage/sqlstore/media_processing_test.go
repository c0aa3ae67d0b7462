package sqlstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
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

// TestProcessingBoundText stores text that looks like SQL and placeholders (bound, not
// interpolated, since the text goes to the driver as a parameter) and reads it back intact,
// in content, metadata and chunks, on both dialects.
func TestProcessingBoundText(t *testing.T) {
	dialects(t, func(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
		ctx := t.Context()
		db := open(t)
		uid := mediaUser(t, db, "bound")
		it := &media.Item{UserID: uid, Title: "t", MediaType: media.TypeDocument, ContentHash: "hb", BlobKey: "b/k",
			Status: media.StatusStored, Size: 3}
		if err := db.Media().Create(ctx, it); err != nil {
			t.Fatal(err)
		}
		text := `It's a "test" ? $1 $2 ?? \' \\ '); DROP TABLE media_entries; -- 日本語 ` + strings.Repeat("x", 1<<16)
		c := &media.Content{ItemID: it.ID, UserID: uid, Text: text, WordCount: 3,
			Metadata: map[string]string{"title": "? $1 'q'"}, Sections: []media.Section{{Title: "$1 ?", Offset: 2}}}
		if err := db.Processing().SetContent(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.Processing().Content(ctx, uid, it.ID)
		if err != nil || got.Text != text || got.Metadata["title"] != "? $1 'q'" || got.Sections[0].Title != "$1 ?" || got.WordCount != 3 {
			t.Fatalf("content round trip: %v, metadata %v, sections %v", err, got.Metadata, got.Sections)
		}
		var chunks []media.Chunk
		for i := range 450 { // more than one batch
			start := i % 20 // within the ASCII head
			chunks = append(chunks, media.Chunk{Index: i, Text: text[start : start+40], Start: start, End: start + 40, Section: "? $1"})
		}
		if err := db.Processing().SetChunks(ctx, uid, it.ID, chunks); err != nil {
			t.Fatal(err)
		}
		back, err := db.Processing().Chunks(ctx, uid, it.ID, 0, -1)
		if err != nil || !reflect.DeepEqual(back, chunks) {
			t.Fatalf("chunks round trip: %v, %d chunks", err, len(back))
		}
		// Another user's item is still not written.
		other := mediaUser(t, db, "bound2")
		if err := db.Processing().SetContent(ctx, &media.Content{ItemID: it.ID, UserID: other, Text: "x"}); !errors.Is(err, media.ErrNotFound) {
			t.Errorf("SetContent of another user's item: %v, want ErrNotFound", err)
		}
	})
}
