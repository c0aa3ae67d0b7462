package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

var auditBase = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// auditDialects runs fn once on SQLite and once on PostgreSQL; newDB returns a
// fresh, migrated database of that dialect.
func auditDialects(t *testing.T, fn func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) *sqlstore.DB {
			return migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "audit.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) *sqlstore.DB { return migrated(t, testenv.Postgres(t)) })
	})
}

func migrated(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func newAuditLog(t testing.TB, db *sqlstore.DB, o sqlstore.AuditOptions) *sqlstore.AuditLog {
	t.Helper()
	l := db.AuditLog(o)
	t.Cleanup(func() { l.Close() })
	return l
}

// testEvent is event i of a simple series, one minute apart from auditBase.
func testEvent(i int) audit.Event {
	return audit.Event{
		Time: auditBase.Add(time.Duration(i) * time.Minute), UserID: int64(i%3 + 1),
		Username: fmt.Sprintf("user%d", i%3+1), Action: audit.TokenRefresh, Success: true,
		IP: "192.0.2.1", RequestID: fmt.Sprintf("r-%d", i), Details: map[string]any{"i": i},
	}
}

func writeAll(t testing.TB, l *sqlstore.AuditLog, events ...audit.Event) {
	t.Helper()
	for i, e := range events {
		if err := l.Write(context.Background(), e); err != nil {
			t.Fatalf("Write(event %d): %v", i, err)
		}
	}
}

// allEntries returns every stored entry in seq order.
func allEntries(ctx context.Context, l *sqlstore.AuditLog) ([]audit.Entry, error) {
	var out []audit.Entry
	for en, err := range l.Scan(ctx, audit.Filter{}) {
		if err != nil {
			return nil, err
		}
		out = append(out, en)
	}
	slices.SortFunc(out, func(a, b audit.Entry) int { return int(a.Seq - b.Seq) })
	return out, nil
}

func TestAuditConformance(t *testing.T) {
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		audittest.TestSink(t, func(t *testing.T) audittest.Harness {
			l := newAuditLog(t, newDB(t), sqlstore.AuditOptions{})
			return audittest.Harness{
				Sink: l,
				Events: func(ctx context.Context) ([]audit.Event, error) {
					ens, err := allEntries(ctx, l)
					evs := make([]audit.Event, len(ens))
					for i, en := range ens {
						evs[i] = en.Event
					}
					return evs, err
				},
				Records: func(ctx context.Context) ([]audit.Record, error) {
					ens, err := allEntries(ctx, l)
					recs := make([]audit.Record, len(ens))
					for i, en := range ens {
						recs[i] = en.Record
					}
					return recs, err
				},
			}
		})
	})
}

func seqs(ens []audit.Entry) []int64 {
	out := make([]int64, len(ens))
	for i, en := range ens {
		out[i] = en.Seq
	}
	return out
}

func TestAuditQuery(t *testing.T) {
	yes, no := true, false
	at := func(m int) time.Time { return auditBase.Add(time.Duration(m) * time.Minute) }
	events := []audit.Event{
		{Time: at(0), Action: audit.LoginFailed, Username: "alice", IP: "203.0.113.7", Error: "bad password"},
		{Time: at(1), Action: audit.LoginSuccess, UserID: 1, Success: true},
		{Time: at(2), Action: audit.APIKeyCreated, UserID: 1, TargetType: "api_key", TargetID: "7", Success: true},
		{Time: at(3), Action: audit.APIKeyRevoked, UserID: 2, TargetType: "api_key", TargetID: "7", Success: true},
		{Time: at(4), Action: "custom.100%_thing", UserID: 2, TargetType: "media", TargetID: "9"},
		{Time: at(5), Action: audit.Logout, UserID: 1, Success: true},
		{Time: at(5), Action: "LOGIN_FAILED", UserID: 3}, // same time as seq 6: seq breaks the tie
	}
	tests := []struct {
		name  string
		f     audit.Filter
		want  []int64
		total int
	}{
		{"all newest first", audit.Filter{}, []int64{7, 6, 5, 4, 3, 2, 1}, 7},
		{"action exact any case", audit.Filter{Actions: []string{"Login_Failed"}}, []int64{7, 1}, 2},
		{"several actions", audit.Filter{Actions: []string{audit.LoginSuccess, audit.Logout}}, []int64{6, 2}, 2},
		{"action prefix", audit.Filter{ActionPrefix: "API_KEY_"}, []int64{4, 3}, 2},
		{"prefix with LIKE metacharacters", audit.Filter{ActionPrefix: "custom.100%"}, []int64{5}, 1},
		{"underscore is literal", audit.Filter{ActionPrefix: "custom.100_"}, []int64{}, 0},
		{"actions or prefix", audit.Filter{Actions: []string{audit.Logout}, ActionPrefix: "api_key_"}, []int64{6, 4, 3}, 3},
		{"user", audit.Filter{UserID: 1}, []int64{6, 3, 2}, 3},
		{"since", audit.Filter{Since: at(2)}, []int64{7, 6, 5, 4, 3}, 5},
		{"until", audit.Filter{Until: at(2)}, []int64{2, 1}, 2},
		{"window", audit.Filter{Since: at(1), Until: at(4)}, []int64{4, 3, 2}, 3},
		{"resource type", audit.Filter{TargetType: "api_key"}, []int64{4, 3}, 2},
		{"resource type and id", audit.Filter{TargetType: "media", TargetID: "9"}, []int64{5}, 1},
		{"resource id", audit.Filter{TargetID: "7"}, []int64{4, 3}, 2},
		{"failures", audit.Filter{Success: &no}, []int64{7, 5, 1}, 3},
		{"successes of user 2", audit.Filter{UserID: 2, Success: &yes}, []int64{4}, 1},
		{"first page", audit.Filter{Limit: 2}, []int64{7, 6}, 7},
		{"last page", audit.Filter{Limit: 2, Offset: 6}, []int64{1}, 7},
		{"past the end", audit.Filter{Limit: 2, Offset: 10}, []int64{}, 7},
	}
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		l := newAuditLog(t, newDB(t), sqlstore.AuditOptions{})
		writeAll(t, l, events...)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := l.Query(ctx, tt.f)
				if err != nil {
					t.Fatalf("Query: %v", err)
				}
				if !slices.Equal(seqs(got), tt.want) || total != tt.total {
					t.Errorf("Query = seqs %v total %d, want %v total %d", seqs(got), total, tt.want, tt.total)
				}
				// Scan selects the same entries, without the page.
				f := tt.f
				f.Limit, f.Offset = 0, 0
				var scanned []int64
				for en, err := range l.Scan(ctx, f) {
					if err != nil {
						t.Fatalf("Scan: %v", err)
					}
					scanned = append(scanned, en.Seq)
				}
				if len(scanned) != tt.total {
					t.Errorf("Scan yielded %v, want %d entries", scanned, tt.total)
				}
			})
		}

		// Every field comes back as written (after redaction).
		got, _, err := l.Query(ctx, audit.Filter{Limit: 1, Offset: 6})
		if err != nil || len(got) != 1 {
			t.Fatalf("Query oldest = %v, %v", got, err)
		}
		want := audit.Redact(events[0])
		if g, w := audit.Canonical(got[0].Event), audit.Canonical(want); !bytes.Equal(g, w) {
			t.Errorf("stored event\n got  %s\n want %s", g, w)
		}
		if got[0].ID == 0 || got[0].PrevHash != audit.Genesis || got[0].Hash != audit.Hash(audit.Genesis, want) {
			t.Errorf("entry = id %d prev %s hash %s, want an id and the genesis link", got[0].ID, got[0].PrevHash, got[0].Hash)
		}

		for _, f := range []audit.Filter{{Limit: 1001}, {Limit: -1}, {Offset: -1}} {
			if _, _, err := l.Query(ctx, f); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Query(%+v) = %v, want ErrInvalid", f, err)
			}
		}
		for _, err := range l.Scan(ctx, audit.Filter{Limit: -1}) {
			if !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Scan(Limit -1) = %v, want ErrInvalid", err)
			}
		}
		// Scan's Limit caps the count; stopping early is fine.
		var n int
		for _, err := range l.Scan(ctx, audit.Filter{Limit: 3}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 3 {
			t.Errorf("Scan(Limit 3) yielded %d", n)
		}
		for range l.Scan(ctx, audit.Filter{}) {
			break
		}
	})
}

func TestAuditQueryDefaultLimit(t *testing.T) {
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		l := newAuditLog(t, newDB(t), sqlstore.AuditOptions{})
		var wg sync.WaitGroup
		for w := range 5 {
			wg.Go(func() {
				for i := range 21 {
					if err := l.Write(context.Background(), testEvent(w*21+i)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		got, total, err := l.Query(context.Background(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 || total != 105 {
			t.Errorf("Query(no limit) = %d entries, total %d; want 100 of 105", len(got), total)
		}
		if seq, _, err := l.Head(context.Background()); err != nil || seq != 105 {
			t.Errorf("Head = %d, %v; want 105", seq, err)
		}
	})
}

func TestAuditGroupCommit(t *testing.T) {
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := newDB(t)
		for _, tt := range []struct {
			name     string
			maxBatch int
			queued   int // events queued behind the blocked first batch
		}{
			{"one batch for all waiting", 0, 50},
			{"batches capped", 8, 8},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resetAudit(t, db)
				l := newAuditLog(t, db, sqlstore.AuditOptions{MaxBatch: tt.maxBatch})
				var (
					mu      sync.Mutex
					sizes   []int
					entered = make(chan struct{})
					release = make(chan struct{})
				)
				sqlstore.SetAuditBatchHook(l, func(n int) {
					mu.Lock()
					sizes = append(sizes, n)
					first := len(sizes) == 1
					mu.Unlock()
					if first {
						close(entered)
						<-release
					}
				})
				total := 1 + tt.queued + 12 // 12 more block on a full queue when capped
				if tt.maxBatch == 0 {
					total = 1 + tt.queued
				}
				var wg sync.WaitGroup
				wg.Go(func() {
					if err := l.Write(ctx, testEvent(0)); err != nil {
						t.Error(err)
					}
				})
				<-entered
				for i := 1; i < total; i++ {
					wg.Go(func() {
						if err := l.Write(ctx, testEvent(i)); err != nil {
							t.Error(err)
						}
					})
				}
				for sqlstore.AuditQueued(l) < tt.queued {
					runtime.Gosched() // wait until the writers have queued (not for time)
				}
				close(release)
				wg.Wait()

				mu.Lock()
				defer mu.Unlock()
				batches, events := sqlstore.AuditBatches(l)
				if events != int64(total) || batches != int64(len(sizes)) {
					t.Errorf("committed %d events in %d batches; hook saw %v, want %d events", events, batches, sizes, total)
				}
				limit := tt.maxBatch
				if limit == 0 {
					limit = 256
				}
				if sizes[0] != 1 || sizes[1] < tt.queued || slices.Max(sizes) > limit {
					t.Errorf("batch sizes %v: want 1, then >= %d, none above %d", sizes, tt.queued, limit)
				}
				rep, err := l.Verify(ctx, nil)
				if err != nil || !rep.OK || rep.Checked != int64(total) {
					t.Errorf("Verify = %+v, %v; want OK with %d rows", rep, err, total)
				}
			})
		}
	})
}

func TestAuditWriteErrors(t *testing.T) {
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := newDB(t)

		t.Run("cancelled context", func(t *testing.T) {
			l := newAuditLog(t, db, sqlstore.AuditOptions{})
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := l.Write(cctx, testEvent(0)); !errors.Is(err, context.Canceled) {
				t.Errorf("Write(cancelled) = %v, want context.Canceled", err)
			}
		})
		t.Run("time out of range", func(t *testing.T) {
			l := newAuditLog(t, db, sqlstore.AuditOptions{})
			e := testEvent(0)
			e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := l.Write(ctx, e); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Write(year 10000) = %v, want ErrInvalid", err)
			}
		})
		t.Run("zero time from Now", func(t *testing.T) {
			now := time.Date(2027, 1, 2, 3, 4, 5, 678901234, time.UTC)
			l := newAuditLog(t, db, sqlstore.AuditOptions{Now: func() time.Time { return now }})
			e := testEvent(0)
			e.Time, e.RequestID = time.Time{}, "zero-time"
			writeAll(t, l, e)
			got, _, err := l.Query(ctx, audit.Filter{Since: now.Truncate(time.Second)})
			if err != nil || len(got) != 1 || got[0].Event.RequestID != "zero-time" ||
				!got[0].Event.Time.Equal(now.Truncate(time.Microsecond)) {
				t.Errorf("Query = %+v, %v; want the event stamped %s", got, err, now)
			}
		})
		t.Run("close flushes and then refuses", func(t *testing.T) {
			l := db.AuditLog(sqlstore.AuditOptions{})
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			sqlstore.SetAuditBatchHook(l, func(int) {
				once.Do(func() { close(entered); <-release })
			})
			before, _, err := l.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 11 {
				wg.Go(func() {
					if err := l.Write(ctx, testEvent(i)); err != nil {
						t.Errorf("Write before Close: %v", err)
					}
				})
				if i == 0 {
					<-entered
				}
			}
			for sqlstore.AuditQueued(l) < 10 {
				runtime.Gosched()
			}
			closed := make(chan error)
			go func() { closed <- l.Close() }()
			close(release)
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
			wg.Wait()
			if after, _, err := l.Head(ctx); err != nil || after != before+11 {
				t.Errorf("head after Close = %d, %v; want %d", after, err, before+11)
			}
			if err := l.Write(ctx, testEvent(0)); !errors.Is(err, audit.ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
			if err := l.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
		t.Run("batch failure reaches every waiter", func(t *testing.T) {
			l := newAuditLog(t, db, sqlstore.AuditOptions{})
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			sqlstore.SetAuditBatchHook(l, func(int) {
				once.Do(func() { close(entered); <-release })
			})
			errs := make(chan error, 6)
			for i := range 6 {
				go func() { errs <- l.Write(ctx, testEvent(i)) }()
				if i == 0 {
					<-entered
				}
			}
			for sqlstore.AuditQueued(l) < 5 {
				runtime.Gosched()
			}
			if _, err := db.Bun().ExecContext(ctx, "DROP TABLE audit_log"); err != nil {
				t.Fatal(err)
			}
			close(release)
			for range 6 {
				if err := <-errs; err == nil {
					t.Error("Write into a dropped table succeeded")
				}
			}
		})
	})
}

// resetAudit empties the audit tables, so one database serves several cases.
func resetAudit(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	for _, q := range []string{
		"DELETE FROM audit_log", "DELETE FROM audit_checkpoints",
		"UPDATE audit_chain_head SET seq = 0, hash = '" + audit.Genesis + "'",
	} {
		if _, err := db.Bun().ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// chainOf writes n test events and returns them in seq order.
func chainOf(t *testing.T, l *sqlstore.AuditLog, n int) []audit.Entry {
	t.Helper()
	for i := range n {
		writeAll(t, l, testEvent(i))
	}
	ens, err := allEntries(context.Background(), l)
	if err != nil || len(ens) != n {
		t.Fatalf("stored %d entries (%v), want %d", len(ens), err, n)
	}
	return ens
}

// forgeLast replaces the last row by a self-consistent forgery; only the
// recorded chain head shows it.
func forgeLast(ctx context.Context, db *sqlstore.DB, ens []audit.Entry) error {
	last := ens[len(ens)-1]
	e := last.Event
	e.Action = audit.Logout
	_, err := db.Bun().ExecContext(ctx, "UPDATE audit_log SET action = ?, hash = ? WHERE seq = ?",
		e.Action, audit.Hash(last.PrevHash, e), last.Seq)
	return err
}

// appendRow adds a correctly chained row without moving the chain head.
func appendRow(ctx context.Context, db *sqlstore.DB, ens []audit.Entry) error {
	last := ens[len(ens)-1]
	e := audit.Redact(testEvent(len(ens)))
	rec := audit.Record{Seq: last.Seq + 1, Event: e, PrevHash: last.Hash, Hash: audit.Hash(last.Hash, e)}
	if err := sqlstore.InsertAuditRecords(ctx, db, []audit.Record{rec}); err != nil {
		return err
	}
	_, err := db.Bun().ExecContext(ctx, "UPDATE audit_chain_head SET seq = ?, hash = ?", last.Seq, last.Hash)
	return err
}

func TestAuditTamper(t *testing.T) {
	key := []byte("checkpoint-key")
	tests := []struct {
		name       string
		sql        []string
		forge      func(ctx context.Context, db *sqlstore.DB, ens []audit.Entry) error // more tampering
		checkpoint bool                                                                // pass a head checkpoint taken before tampering
		wantKind   string
		wantSeq    int64
	}{
		{name: "untouched"},
		{name: "untouched with checkpoint", checkpoint: true},
		{name: "row updated", sql: []string{"UPDATE audit_log SET action = 'logout' WHERE seq = 4"},
			wantKind: audit.BreakModified, wantSeq: 4},
		{name: "details updated", sql: []string{"UPDATE audit_log SET details = NULL WHERE seq = 7"},
			wantKind: audit.BreakModified, wantSeq: 7},
		{name: "middle row deleted", sql: []string{"DELETE FROM audit_log WHERE seq = 5"},
			wantKind: audit.BreakMissing, wantSeq: 5},
		{name: "rows swapped", sql: []string{
			"UPDATE audit_log SET seq = -3 WHERE seq = 3",
			"UPDATE audit_log SET seq = 3 WHERE seq = 6",
			"UPDATE audit_log SET seq = 6 WHERE seq = -3",
		}, wantKind: audit.BreakReordered, wantSeq: 3},
		{name: "tail deleted", sql: []string{"DELETE FROM audit_log WHERE seq > 8"},
			wantKind: audit.BreakTruncated, wantSeq: 9},
		{name: "tail deleted and head rewound, caught by checkpoint", sql: []string{
			"DELETE FROM audit_log WHERE seq > 8",
			"UPDATE audit_chain_head SET seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8)",
		}, checkpoint: true, wantKind: audit.BreakTruncated, wantSeq: 9},
		{name: "hash updated with content", sql: []string{
			"UPDATE audit_log SET action = 'logout', hash = 'ab' WHERE seq = 10",
		}, wantKind: audit.BreakModified, wantSeq: 10},
		{name: "last row forged", forge: forgeLast, wantKind: audit.BreakTruncated, wantSeq: 10},
		{name: "row appended past the head", forge: appendRow, wantKind: audit.BreakReordered, wantSeq: 11},
	}
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		db := newDB(t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				resetAudit(t, db)
				l := newAuditLog(t, db, sqlstore.AuditOptions{})
				ens := chainOf(t, l, 10)
				var last *audit.Checkpoint
				if tt.checkpoint {
					c := audit.Checkpoint{Seq: 10, Hash: ens[9].Hash, Time: auditBase, Kind: audit.CheckpointHead}.Sign(key)
					last = &c
				}
				if tt.forge != nil {
					if err := tt.forge(ctx, db, ens); err != nil {
						t.Fatal(err)
					}
				}
				for _, q := range tt.sql {
					if _, err := db.Bun().ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				rep, err := l.Verify(ctx, last)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.wantKind == "" {
					if !rep.OK || rep.Checked != 10 || rep.Head != 10 || rep.HeadHash != ens[9].Hash || rep.Break != nil {
						t.Errorf("Verify = %+v, want OK over 10 rows", rep)
					}
					return
				}
				if rep.OK || rep.Break == nil || rep.Break.Kind != tt.wantKind || rep.Break.Seq != tt.wantSeq {
					t.Errorf("Verify = %+v (break %+v), want %s at seq %d", rep, rep.Break, tt.wantKind, tt.wantSeq)
				}
			})
		}
	})
}

func TestAuditPurge(t *testing.T) {
	key := []byte("purge-key")
	hours := []int{0, 1, 2, 3, -5, 4, 5, 6, 7, 8} // seq 5 is old but follows newer rows
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := newDB(t)
		purgedAt := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		l := newAuditLog(t, db, sqlstore.AuditOptions{Now: func() time.Time { return purgedAt }})
		sqlstore.SetAuditPurgeChunk(l, 2)
		for i, h := range hours {
			e := testEvent(i)
			e.Time = auditBase.Add(time.Duration(h) * time.Hour)
			writeAll(t, l, e)
		}
		ens, err := allEntries(ctx, l)
		if err != nil {
			t.Fatal(err)
		}

		n, err := l.Purge(ctx, auditBase.Add(150*time.Minute), key)
		if err != nil || n != 3 {
			t.Fatalf("Purge(before 02:30) = %d, %v; want 3 (seq 1-3; seq 5 stays behind seq 4)", n, err)
		}
		cp, err := l.LastCheckpoint(ctx, audit.CheckpointPurge)
		if err != nil || cp == nil {
			t.Fatalf("LastCheckpoint(purge) = %v, %v", cp, err)
		}
		if cp.Seq != 3 || cp.Hash != ens[2].Hash || !cp.Time.Equal(purgedAt) || !cp.Valid(key) {
			t.Errorf("purge checkpoint = %+v, want seq 3, hash of row 3, signed at %s", cp, purgedAt)
		}
		rep, err := l.Verify(ctx, nil)
		if err != nil || !rep.OK || rep.From != 4 || rep.Checked != 7 || rep.Head != 10 {
			t.Errorf("Verify after purge = %+v, %v; want OK from seq 4 over 7 rows", rep, err)
		}
		if _, total, _ := l.Query(ctx, audit.Filter{}); total != 7 {
			t.Errorf("%d rows left, want 7", total)
		}
		if n, err := l.Purge(ctx, auditBase.Add(150*time.Minute), key); err != nil || n != 0 {
			t.Errorf("repeated Purge = %d, %v; want nothing removed", n, err)
		}

		// Tampering blocks the purge instead of being erased by it.
		if _, err := db.Bun().ExecContext(ctx, "UPDATE audit_log SET username = 'mallory' WHERE seq = 6"); err != nil {
			t.Fatal(err)
		}
		n, err = l.Purge(ctx, auditBase.Add(100*time.Hour), key)
		if err == nil || n != 2 {
			t.Errorf("Purge over a modified row = %d, %v; want seq 4-5 removed, then an error", n, err)
		}
		rep, err = l.Verify(ctx, nil)
		if err != nil || rep.OK || rep.Break.Kind != audit.BreakModified || rep.Break.Seq != 6 {
			t.Errorf("Verify after refused purge = %+v, %v; want modified at 6", rep, err)
		}
		if _, err := db.Bun().ExecContext(ctx, "UPDATE audit_log SET username = ? WHERE seq = 6", ens[5].Event.Username); err != nil {
			t.Fatal(err)
		}

		// Purging everything keeps the head; the chain continues from the checkpoint.
		if n, err := l.Purge(ctx, auditBase.Add(100*time.Hour), key); err != nil || n != 5 {
			t.Errorf("Purge(all) = %d, %v; want 5", n, err)
		}
		rep, err = l.Verify(ctx, nil)
		if err != nil || !rep.OK || rep.Checked != 0 || rep.Head != 10 || rep.HeadHash != ens[9].Hash {
			t.Errorf("Verify of an empty log = %+v, %v; want OK at head 10", rep, err)
		}
		writeAll(t, l, testEvent(10))
		rep, err = l.Verify(ctx, nil)
		if err != nil || !rep.OK || rep.From != 11 || rep.Checked != 1 || rep.Head != 11 {
			t.Errorf("Verify after a new write = %+v, %v; want OK with seq 11", rep, err)
		}
		// A deleted purge checkpoint cannot hide the purge.
		if _, err := db.Bun().ExecContext(ctx, "DELETE FROM audit_checkpoints WHERE kind = 'purge' AND seq = 10"); err != nil {
			t.Fatal(err)
		}
		if rep, err := l.Verify(ctx, nil); err != nil || rep.OK {
			t.Errorf("Verify without the newest purge checkpoint = %+v, %v; want a break", rep, err)
		}
	})
}

func TestAuditCheckpoints(t *testing.T) {
	key := []byte("k")
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		l := newAuditLog(t, newDB(t), sqlstore.AuditOptions{})
		if c, err := l.LastCheckpoint(ctx, audit.CheckpointHead); c != nil || err != nil {
			t.Errorf("LastCheckpoint on an empty table = %v, %v; want nil, nil", c, err)
		}
		if seq, hash, err := l.Head(ctx); seq != 0 || hash != audit.Genesis || err != nil {
			t.Errorf("Head of an empty log = %d, %s, %v", seq, hash, err)
		}
		zone := time.FixedZone("X", 3600)
		want := audit.Checkpoint{Seq: 9, Hash: "h9", Time: time.Date(2026, 12, 1, 1, 2, 3, 456789999, zone), Kind: audit.CheckpointHead}.Sign(key)
		for _, c := range []audit.Checkpoint{
			{Seq: 3, Hash: "h3", Time: auditBase, Kind: audit.CheckpointHead},
			want,
			{Seq: 5, Hash: "h5", Time: auditBase, Kind: audit.CheckpointHead}, // saved later, older position
			{Seq: 20, Hash: "p", Time: auditBase, Kind: audit.CheckpointPurge},
		} {
			if err := l.SaveCheckpoint(ctx, c.Sign(key)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.LastCheckpoint(ctx, audit.CheckpointHead)
		if err != nil || got == nil {
			t.Fatalf("LastCheckpoint = %v, %v", got, err)
		}
		if got.Seq != want.Seq || got.Hash != want.Hash || !got.Time.Equal(want.Time) || got.MAC != want.MAC || !got.Valid(key) {
			t.Errorf("LastCheckpoint = %+v, want %+v with a valid MAC", got, want)
		}
		if err := l.SaveCheckpoint(ctx, audit.Checkpoint{Kind: "other"}); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("SaveCheckpoint(kind other) = %v, want ErrInvalid", err)
		}
	})
}

// TestAuditTwoWritersPostgres runs two pools with an AuditLog each on one
// database, as two replicas would: one gapless chain.
func TestAuditTwoWritersPostgres(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	dbs := []*sqlstore.DB{migrated(t, url), migrated(t, url)}
	logs := []*sqlstore.AuditLog{
		newAuditLog(t, dbs[0], sqlstore.AuditOptions{}), newAuditLog(t, dbs[1], sqlstore.AuditOptions{}),
	}
	const writers = 8
	each := 1000
	if testing.Short() {
		each = 100
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := logs[w%2].Write(ctx, testEvent(w*each+i)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var count, lo, hi int64
	if err := dbs[0].Bun().QueryRowContext(ctx, "SELECT count(*), min(seq), max(seq) FROM audit_log").Scan(&count, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	n := int64(writers * each)
	if count != n || lo != 1 || hi != n {
		t.Errorf("rows: count %d, seq %d..%d; want %d rows, seq 1..%d", count, lo, hi, n, n)
	}
	for i, l := range logs {
		if b, e := sqlstore.AuditBatches(l); e != n/2 || b == 0 {
			t.Errorf("log %d committed %d events in %d batches, want %d", i, e, b, n/2)
		}
	}
	rep, err := logs[1].Verify(ctx, nil)
	if err != nil || !rep.OK || rep.Checked != n {
		t.Errorf("Verify = %+v, %v; want OK over %d rows", rep, err, n)
	}
}

// chainRecords builds n chained records, one second apart, with some bulk.
func chainRecords(n int) []audit.Record {
	recs := make([]audit.Record, n)
	prev := audit.Genesis
	ua := strings.Repeat("Mozilla/5.0 ", 10)
	for i := range recs {
		e := audit.Redact(audit.Event{
			Time: auditBase.Add(time.Duration(i) * time.Second), UserID: int64(i%50 + 1),
			Username: fmt.Sprintf("user%d", i%50), Action: audit.TokenRefresh, Success: true,
			IP: "198.51.100.23", UserAgent: ua, RequestID: fmt.Sprintf("req-%08d", i),
			Method: "POST", Path: "/api/v1/auth/refresh",
			Details: map[string]any{"i": i, "session": fmt.Sprintf("s-%d", i/7), "ok": true},
		})
		h := audit.Hash(prev, e)
		recs[i] = audit.Record{Seq: int64(i + 1), Event: e, PrevHash: prev, Hash: h}
		prev = h
	}
	return recs
}

func TestAuditScanStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 100k rows")
	}
	const n = 100_000
	recs := chainRecords(n)
	auditDialects(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := newDB(t)
		if err := sqlstore.InsertAuditRecords(ctx, db, recs); err != nil {
			t.Fatal(err)
		}
		l := newAuditLog(t, db, sqlstore.AuditOptions{})

		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base, peak := ms.HeapAlloc, ms.HeapAlloc
		count, next := 0, int64(n)
		for en, err := range l.Scan(ctx, audit.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if en.Seq != next {
				t.Fatalf("entry %d has seq %d, want %d (newest first)", count, en.Seq, next)
			}
			next--
			count++
			if count%10_000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		if count != n {
			t.Fatalf("Scan yielded %d entries, want %d", count, n)
		}
		// 100k entries held at once would take well over 50 MB.
		const bound = 8 << 20
		if grown := int64(peak) - int64(base); grown > bound {
			t.Errorf("live heap grew by %d MB while scanning %d rows, want < %d MB", grown>>20, n, bound>>20)
		}
		t.Logf("live heap growth while scanning %d rows: %d KB", n, (int64(peak)-int64(base))>>10)
	})
}

// TestAuditGuideCopyExport runs the deployment guide's export SQL on PostgreSQL.
func TestAuditGuideCopyExport(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, testenv.Postgres(t))
	l := newAuditLog(t, db, sqlstore.AuditOptions{})
	old := testEvent(0)
	old.Time = time.Now().Add(-40 * 24 * time.Hour)
	writeAll(t, l, old)
	for i := 1; i <= 3; i++ {
		e := testEvent(i)
		e.Time = time.Time{} // now
		e.Action = audit.LoginFailed
		writeAll(t, l, e)
	}

	const query = "SELECT * FROM audit_log WHERE created_at > NOW() - INTERVAL '30 days'"
	rows, err := db.Bun().QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("guide SELECT: %v", err)
	}
	var n int
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if n != 3 {
		t.Errorf("guide SELECT returned %d rows, want the 3 recent ones", n)
	}

	conn, err := db.Bun().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out bytes.Buffer
	err = conn.Raw(func(dc any) error {
		_, err := dc.(*stdlib.Conn).Conn().PgConn().CopyTo(ctx, &out, "COPY ("+query+") TO STDOUT CSV HEADER")
		return err
	})
	if err != nil {
		t.Fatalf("COPY: %v", err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("parse COPY output: %v\n%s", err, out.String())
	}
	wantHeader := strings.Split(strings.ReplaceAll(
		"id, seq, user_id, username, action, target_type, target_id, ip_address, user_agent, request_id, "+
			"request_method, request_path, success, error_message, details, created_at, prev_hash, hash", " ", ""), ",")
	if len(recs) != 4 || !slices.Equal(recs[0], wantHeader) {
		t.Fatalf("COPY output: %d lines, header %v; want 3 rows under %v", len(recs), recs[0], wantHeader)
	}
	for _, r := range recs[1:] {
		if r[4] != audit.LoginFailed || !strings.HasPrefix(r[14], "{") {
			t.Errorf("exported row %v: want action login_failed and JSON details", r)
		}
	}
}
