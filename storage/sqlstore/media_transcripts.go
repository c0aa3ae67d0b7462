package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tldw-go/tldw/media"
)

// SetTranscript implements media.ProcessingStore: one row per item and model in
// media_transcripts (migration 20261202000095_media_transcripts), replaced in place.
func (p *Processing) SetTranscript(ctx context.Context, t *media.StoredTranscript) error {
	if t.Model == "" {
		return fmt.Errorf("%w: a transcript needs its model", media.ErrInvalid)
	}
	segs, err := json.Marshal(orEmpty(t.Segments))
	if err != nil {
		return fmt.Errorf("sqlstore: encode segments: %w", err)
	}
	res, err := p.db.idb(ctx).ExecContext(ctx, `INSERT INTO media_transcripts (media_id, user_id, whisper_model,
		language, transcription, segments, created_at)
		SELECT id, user_id, ?, ?, ?, ?, ? FROM media_entries WHERE id = ? AND user_id = ?
		ON CONFLICT (media_id, whisper_model) DO UPDATE SET language = excluded.language,
		transcription = excluded.transcription, segments = excluded.segments, created_at = excluded.created_at`,
		t.Model, t.Language, t.Text, string(segs), p.db.timeArg(orNow(t.CreatedAt)), t.ItemID, t.UserID)
	if err != nil {
		return mediaErr("set transcript", err)
	}
	return mediaErr("set transcript", mediaAffected(res))
}

// Transcripts implements media.ProcessingStore.
func (p *Processing) Transcripts(ctx context.Context, userID, itemID int64) ([]media.StoredTranscript, error) {
	var rows []struct {
		Model     string    `bun:"whisper_model"`
		Language  string    `bun:"language"`
		Text      string    `bun:"transcription"`
		Segments  string    `bun:"segments"`
		CreatedAt time.Time `bun:"created_at"`
	}
	db := p.db.idb(ctx)
	err := db.NewRaw(`SELECT whisper_model, language, transcription, segments, created_at FROM media_transcripts
		WHERE media_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC`, itemID, userID).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mediaErr("list transcripts", err)
	}
	if len(rows) == 0 {
		var one int
		err := db.NewRaw(`SELECT 1 FROM media_entries WHERE id = ? AND user_id = ?`, itemID, userID).Scan(ctx, &one)
		return nil, mediaErr("list transcripts", err)
	}
	out := make([]media.StoredTranscript, len(rows))
	for i, r := range rows {
		out[i] = media.StoredTranscript{ItemID: itemID, UserID: userID, Model: r.Model, Language: r.Language,
			Text: r.Text, CreatedAt: r.CreatedAt.UTC()}
		if err := json.Unmarshal([]byte(r.Segments), &out[i].Segments); err != nil {
			return nil, fmt.Errorf("sqlstore: decode segments: %w", err)
		}
		if len(out[i].Segments) == 0 {
			out[i].Segments = nil
		}
	}
	return out, nil
}

// msArg is a chunk time as a nullable milliseconds column.
func msArg(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return d.Milliseconds()
}

// msDuration reads a nullable milliseconds column.
func msDuration(ms *int64) *time.Duration {
	if ms == nil {
		return nil
	}
	d := time.Duration(*ms) * time.Millisecond
	return &d
}
