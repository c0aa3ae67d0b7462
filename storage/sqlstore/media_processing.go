package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/media"
)

// Processing is the SQL media.ProcessingStore, on the tables of migration
// 20261202000070_media_processing: media_entries.status/chunk_count/processing_error,
// media_content, media_chunks and media_stages. Every statement filters on user_id. Errors
// are translated like Media's. Safe for concurrent use.
type Processing struct{ db *DB }

var _ media.ProcessingStore = (*Processing)(nil)

// Processing returns the processing store on db.
func (db *DB) Processing() *Processing { return &Processing{db: db} }

// chunkBatch is how many chunks one INSERT writes.
const chunkBatch = 200

// Reset implements media.ProcessingStore.
func (p *Processing) Reset(ctx context.Context, userID, itemID int64, from media.Stage, at time.Time) error {
	err := p.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return p.reset(ctx, tx, userID, itemID, from, at)
	})
	return mediaErr("reset processing", err)
}

// reset is Reset inside tx.
func (p *Processing) reset(ctx context.Context, tx bun.IDB, userID, itemID int64, from media.Stage, at time.Time) error {
	todo, err := media.StagesFrom(from)
	if err != nil {
		return err
	}
	if err := p.setStatus(ctx, tx, userID, itemID, media.StatusQueued, "", at); err != nil {
		return err
	}
	for _, s := range todo {
		if _, err := tx.ExecContext(ctx, `INSERT INTO media_stages (media_id, user_id, stage, status,
			attempts, started_at, finished_at, warnings, error) VALUES (?, ?, ?, 'pending', 0, NULL, NULL, '[]', '')
			ON CONFLICT (media_id, stage) DO UPDATE SET status = 'pending', attempts = 0,
			started_at = NULL, finished_at = NULL, warnings = '[]', error = ''`,
			itemID, userID, string(s)); err != nil {
			return err
		}
	}
	return nil
}

// SetStatus implements media.ProcessingStore.
func (p *Processing) SetStatus(ctx context.Context, userID, itemID int64, st media.Status, msg string, at time.Time) error {
	return mediaErr("set processing status", p.setStatus(ctx, p.db.idb(ctx), userID, itemID, st, msg, at))
}

func (p *Processing) setStatus(ctx context.Context, db bun.IDB, userID, itemID int64, st media.Status, msg string, at time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE media_entries SET status = ?, processing_error = ?,
		processing_updated_at = ? WHERE id = ? AND user_id = ?`,
		string(st), msg, p.db.timeArg(utc(at)), itemID, userID)
	if err != nil {
		return err
	}
	return mediaAffected(res)
}

// SetStage implements media.ProcessingStore.
func (p *Processing) SetStage(ctx context.Context, userID, itemID int64, s media.StageState) error {
	if !slices.Contains(media.Stages(), s.Stage) {
		return fmt.Errorf("%w: unknown stage %q", media.ErrInvalid, s.Stage)
	}
	switch s.Status {
	case media.StagePending, media.StageRunning, media.StageDone, media.StageFailed, media.StageSkipped:
	default:
		return fmt.Errorf("%w: unknown stage status %q", media.ErrInvalid, s.Status)
	}
	warnings, err := json.Marshal(orEmpty(s.Warnings))
	if err != nil {
		return fmt.Errorf("sqlstore: encode warnings: %w", err)
	}
	res, err := p.db.idb(ctx).ExecContext(ctx, `INSERT INTO media_stages (media_id, user_id, stage, status,
		attempts, started_at, finished_at, warnings, error)
		SELECT id, user_id, ?, ?, ?, ?, ?, ?, ? FROM media_entries WHERE id = ? AND user_id = ?
		ON CONFLICT (media_id, stage) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
		started_at = excluded.started_at, finished_at = excluded.finished_at,
		warnings = excluded.warnings, error = excluded.error`,
		string(s.Stage), string(s.Status), s.Attempts, p.db.nullTimeArg(s.StartedAt), p.db.nullTimeArg(s.FinishedAt),
		string(warnings), s.Error, itemID, userID)
	if err != nil {
		return mediaErr("set processing stage", err)
	}
	return mediaErr("set processing stage", mediaAffected(res))
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type stageRow struct {
	Stage      string     `bun:"stage"`
	Status     string     `bun:"status"`
	Attempts   int        `bun:"attempts"`
	StartedAt  *time.Time `bun:"started_at"`
	FinishedAt *time.Time `bun:"finished_at"`
	Warnings   string     `bun:"warnings"`
	Error      string     `bun:"error"`
}

// Processing implements media.ProcessingStore.
func (p *Processing) Processing(ctx context.Context, userID, itemID int64) (*media.Processing, error) {
	var row struct {
		Status     string     `bun:"status"`
		Error      string     `bun:"processing_error"`
		ChunkCount int        `bun:"chunk_count"`
		WordCount  int        `bun:"word_count"`
		UpdatedAt  *time.Time `bun:"processing_updated_at"`
	}
	db := p.db.idb(ctx)
	err := db.NewRaw(`SELECT status, processing_error, chunk_count, processing_updated_at, word_count
		FROM media_entries WHERE id = ? AND user_id = ?`, itemID, userID).Scan(ctx, &row)
	if err != nil {
		return nil, mediaErr("get processing", err)
	}
	var rows []stageRow
	err = db.NewRaw(`SELECT stage, status, attempts, started_at, finished_at, warnings, error
		FROM media_stages WHERE media_id = ? AND user_id = ?`, itemID, userID).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mediaErr("get processing stages", err)
	}
	out := &media.Processing{ItemID: itemID, UserID: userID, Status: media.Status(row.Status),
		Error: row.Error, ChunkCount: row.ChunkCount, WordCount: row.WordCount}
	if row.UpdatedAt != nil {
		out.UpdatedAt = row.UpdatedAt.UTC()
	}
	order := media.Stages()
	slices.SortFunc(rows, func(a, b stageRow) int {
		return slices.Index(order, media.Stage(a.Stage)) - slices.Index(order, media.Stage(b.Stage))
	})
	for _, r := range rows {
		st := media.StageState{Stage: media.Stage(r.Stage), Status: media.StageStatus(r.Status),
			Attempts: r.Attempts, StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt), Error: r.Error}
		if err := json.Unmarshal([]byte(r.Warnings), &st.Warnings); err != nil {
			return nil, fmt.Errorf("sqlstore: decode stage warnings: %w", err)
		}
		if len(st.Warnings) == 0 {
			st.Warnings = nil
		}
		out.Stages = append(out.Stages, st)
	}
	return out, nil
}

// SetContent implements media.ProcessingStore.
func (p *Processing) SetContent(ctx context.Context, c *media.Content) error {
	var enc [3][]byte
	for i, v := range []any{orMap(c.Metadata), orEmpty(c.Sections), orEmpty(c.Segments)} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("sqlstore: encode content: %w", err)
		}
		enc[i] = b
	}
	err := p.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE media_entries SET word_count = ? WHERE id = ? AND user_id = ?`,
			c.WordCount, c.ItemID, c.UserID)
		if err != nil {
			return err
		}
		if err := mediaAffected(res); err != nil {
			return err
		}
		_, err = p.db.execBound(ctx, tx, `INSERT INTO media_content (media_id, user_id, content,
			word_count, metadata, sections, segments, analysis, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)
			ON CONFLICT (media_id) DO UPDATE SET content = excluded.content, word_count = excluded.word_count,
			metadata = excluded.metadata, sections = excluded.sections, segments = excluded.segments,
			analysis = '', updated_at = excluded.updated_at`,
			c.ItemID, c.UserID, bound{c.Text}, c.WordCount, bound{string(enc[0])}, bound{string(enc[1])},
			bound{string(enc[2])}, p.db.timeArg(orNow(c.UpdatedAt)))
		return err
	})
	return mediaErr("set content", err)
}

func orMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Content implements media.ProcessingStore.
func (p *Processing) Content(ctx context.Context, userID, itemID int64) (*media.Content, error) {
	var row struct {
		Text      string    `bun:"content"`
		WordCount int       `bun:"word_count"`
		Metadata  string    `bun:"metadata"`
		Sections  string    `bun:"sections"`
		Segments  string    `bun:"segments"`
		Analysis  string    `bun:"analysis"`
		UpdatedAt time.Time `bun:"updated_at"`
	}
	err := p.db.idb(ctx).NewRaw(`SELECT content, word_count, metadata, sections, segments, analysis, updated_at
		FROM media_content WHERE media_id = ? AND user_id = ?`, itemID, userID).Scan(ctx, &row)
	if err != nil {
		return nil, mediaErr("get content", err)
	}
	c := &media.Content{ItemID: itemID, UserID: userID, Text: row.Text, WordCount: row.WordCount,
		Analysis: row.Analysis, UpdatedAt: row.UpdatedAt.UTC()}
	for _, f := range []struct {
		raw string
		dst any
	}{{row.Metadata, &c.Metadata}, {row.Sections, &c.Sections}, {row.Segments, &c.Segments}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return nil, fmt.Errorf("sqlstore: decode content: %w", err)
		}
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if len(c.Sections) == 0 {
		c.Sections = nil
	}
	if len(c.Segments) == 0 {
		c.Segments = nil
	}
	return c, nil
}

// SetAnalysis implements media.ProcessingStore.
func (p *Processing) SetAnalysis(ctx context.Context, userID, itemID int64, text string, at time.Time) error {
	res, err := p.db.idb(ctx).ExecContext(ctx, `UPDATE media_content SET analysis = ?, updated_at = ?
		WHERE media_id = ? AND user_id = ?`, text, p.db.timeArg(utc(at)), itemID, userID)
	if err != nil {
		return mediaErr("set analysis", err)
	}
	return mediaErr("set analysis", mediaAffected(res))
}

// SetChunks implements media.ProcessingStore.
func (p *Processing) SetChunks(ctx context.Context, userID, itemID int64, chunks []media.Chunk) error {
	err := p.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE media_entries SET chunk_count = ? WHERE id = ? AND user_id = ?`,
			len(chunks), itemID, userID)
		if err != nil {
			return err
		}
		if err := mediaAffected(res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM media_chunks WHERE media_id = ? AND user_id = ?`, itemID, userID); err != nil {
			return err
		}
		for len(chunks) > 0 {
			batch := chunks[:min(len(chunks), chunkBatch)]
			chunks = chunks[len(batch):]
			args := make([]any, 0, 9*len(batch))
			for _, c := range batch {
				args = append(args, itemID, userID, c.Index, bound{c.Text}, c.Start, c.End, bound{c.Section}, msArg(c.StartTime), msArg(c.EndTime))
			}
			q := `INSERT INTO media_chunks (media_id, user_id, chunk_index, chunk_text, start_char, end_char, section, start_ms, end_ms) VALUES ` +
				strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(batch)-1) + "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
			if _, err := p.db.execBound(ctx, tx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	return mediaErr("set chunks", err)
}

// DeleteContent implements media.ProcessingStore.
func (p *Processing) DeleteContent(ctx context.Context, userID, itemID int64) error {
	err := p.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE media_entries SET chunk_count = 0, word_count = 0 WHERE id = ? AND user_id = ?`, itemID, userID)
		if err != nil {
			return err
		}
		if err := mediaAffected(res); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM media_chunks WHERE media_id = ? AND user_id = ?`,
			`DELETE FROM media_content WHERE media_id = ? AND user_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, itemID, userID); err != nil {
				return err
			}
		}
		return nil
	})
	return mediaErr("delete content", err)
}

// Chunks implements media.ProcessingStore.
func (p *Processing) Chunks(ctx context.Context, userID, itemID int64, first, n int) ([]media.Chunk, error) {
	if n == 0 {
		return nil, nil
	}
	q := `SELECT chunk_index, chunk_text, start_char, end_char, section, start_ms, end_ms FROM media_chunks
		WHERE media_id = ? AND user_id = ? AND chunk_index >= ? ORDER BY chunk_index`
	args := []any{itemID, userID, max(first, 0)}
	if n > 0 {
		q += ` LIMIT ?`
		args = append(args, n)
	}
	var rows []struct {
		Index   int    `bun:"chunk_index"`
		Text    string `bun:"chunk_text"`
		Start   int    `bun:"start_char"`
		End     int    `bun:"end_char"`
		Section string `bun:"section"`
		StartMS *int64 `bun:"start_ms"`
		EndMS   *int64 `bun:"end_ms"`
	}
	db := p.db.idb(ctx)
	if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mediaErr("list chunks", err)
	}
	if len(rows) == 0 {
		var one int
		err := db.NewRaw(`SELECT 1 FROM media_entries WHERE id = ? AND user_id = ?`, itemID, userID).Scan(ctx, &one)
		return nil, mediaErr("list chunks", err)
	}
	out := make([]media.Chunk, len(rows))
	for i, r := range rows {
		out[i] = media.Chunk{Index: r.Index, Text: r.Text, Start: r.Start, End: r.End, Section: r.Section,
			StartTime: msDuration(r.StartMS), EndTime: msDuration(r.EndMS)}
	}
	return out, nil
}

// bound marks an argument of execBound that goes to the driver as a bind parameter.
type bound struct{ v any }

// execBound runs query on idb like its ExecContext, except that arguments wrapped in bound
// are passed to the driver as bind parameters instead of being interpolated into the SQL
// text by bun. For an item's text and chunks this saves building (escaped, so copied) a
// statement as large as the text and the database parsing it: bun interpolates all
// arguments otherwise. Bound values must be text (on PostgreSQL an untyped parameter in a
// select list is resolved as text).
func (db *DB) execBound(ctx context.Context, idb bun.IDB, query string, args ...any) (sql.Result, error) {
	var params []any
	formatted := make([]any, len(args))
	for i, a := range args {
		b, ok := a.(bound)
		if !ok {
			formatted[i] = a
			continue
		}
		params = append(params, b.v)
		mark := "?"
		if db.dialect == dialectPostgres {
			mark = "$" + strconv.Itoa(len(params))
		}
		formatted[i] = bun.Safe(mark)
	}
	q := db.bun.QueryGen().FormatQuery(query, formatted...)
	switch x := idb.(type) {
	case bun.Tx:
		return x.Tx.ExecContext(ctx, q, params...)
	case *bun.DB:
		return x.DB.ExecContext(ctx, q, params...)
	}
	return nil, fmt.Errorf("sqlstore: execBound on %T", idb)
}
