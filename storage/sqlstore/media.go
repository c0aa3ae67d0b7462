package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/media"
)

// Media is the SQL media.Store, on the tables of migration 20261128000005_media:
// media_entries (one row per item), keywords (per user, normalised) and media_keywords (the
// links). Every statement filters on user_id, except ByIDAny (admin reads). Driver errors are
// translated at the boundary: no row is media.ErrNotFound, a unique violation (the user's
// content hash, the blob key, the uuid) media.ErrConflict, a foreign-key violation (an
// unknown user) or CHECK violation media.ErrInvalid. Safe for concurrent use.
type Media struct{ db *DB }

var _ media.Store = (*Media)(nil)

// Media returns the media store on db.
func (db *DB) Media() *Media { return &Media{db: db} }

const mediaCols = `id, uuid, user_id, title, author, media_type, filename, content_type,
	size_bytes, content_hash, blob_key, status, is_trash, trash_date, created_at, updated_at, source_url`

type mediaRow struct {
	ID          int64      `bun:"id"`
	UUID        string     `bun:"uuid"`
	UserID      int64      `bun:"user_id"`
	Title       string     `bun:"title"`
	Author      string     `bun:"author"`
	MediaType   string     `bun:"media_type"`
	Filename    string     `bun:"filename"`
	ContentType string     `bun:"content_type"`
	Size        int64      `bun:"size_bytes"`
	ContentHash string     `bun:"content_hash"`
	BlobKey     string     `bun:"blob_key"`
	Status      string     `bun:"status"`
	IsTrash     bool       `bun:"is_trash"`
	TrashDate   *time.Time `bun:"trash_date"`
	CreatedAt   time.Time  `bun:"created_at"`
	UpdatedAt   time.Time  `bun:"updated_at"`
	URL         string     `bun:"source_url"`
}

func (r *mediaRow) item() media.Item {
	return media.Item{
		ID: r.ID, UUID: r.UUID, UserID: r.UserID, Title: r.Title, Author: r.Author,
		MediaType: r.MediaType, Filename: r.Filename, ContentType: r.ContentType, Size: r.Size,
		ContentHash: r.ContentHash, BlobKey: r.BlobKey, Status: media.Status(r.Status),
		Trashed: r.IsTrash, TrashedAt: timePtr(r.TrashDate),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), URL: r.URL,
	}
}

// mediaErr translates err from operation op into package media's sentinels.
func mediaErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, media.ErrNotFound), errors.Is(err, media.ErrConflict), errors.Is(err, media.ErrInvalid):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: media item", media.ErrNotFound)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	switch kind, _ := violation(err); kind {
	case "unique":
		return fmt.Errorf("%w: the user already has this content, or the key is taken", media.ErrConflict)
	case "foreign":
		return fmt.Errorf("%w: unknown user", media.ErrInvalid)
	case "check":
		return fmt.Errorf("%w: media item rejected by the database", media.ErrInvalid)
	}
	// %v, not %w: callers never see a driver's error type.
	return fmt.Errorf("sqlstore: %s: %v", op, err)
}

// Create implements media.Store.
func (s *Media) Create(ctx context.Context, it *media.Item) error {
	if it.UserID <= 0 || it.Title == "" || it.MediaType == "" || it.ContentHash == "" ||
		it.BlobKey == "" || it.Status == "" || it.Size < 0 {
		return fmt.Errorf("%w: user, title, media type, content hash, blob key and status are required", media.ErrInvalid)
	}
	id := it.UUID
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w: uuid %q is malformed", media.ErrInvalid, id)
	}
	created := orNow(it.CreatedAt)
	updated := created
	if !it.UpdatedAt.IsZero() {
		updated = utc(it.UpdatedAt)
	}
	kws := slices.Compact(slices.Sorted(slices.Values(it.Keywords)))
	var newID int64
	err := s.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewRaw(`INSERT INTO media_entries (uuid, user_id, title, author, media_type,
			filename, content_type, size_bytes, content_hash, blob_key, status, is_trash,
			trash_date, created_at, updated_at, source_url)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, NULL, ?, ?, ?) RETURNING id`,
			id, it.UserID, it.Title, it.Author, it.MediaType, it.Filename, it.ContentType, it.Size,
			it.ContentHash, it.BlobKey, string(it.Status), s.db.timeArg(created), s.db.timeArg(updated), it.URL,
		).Scan(ctx, &newID)
		if err != nil {
			return err
		}
		return s.linkKeywords(ctx, tx, it.UserID, newID, kws, created)
	})
	if err != nil {
		return mediaErr("create media item", err)
	}
	it.ID, it.UUID, it.CreatedAt, it.UpdatedAt = newID, id, created, updated
	it.Keywords, it.Trashed, it.TrashedAt = kws, false, nil
	return nil
}

// linkKeywords makes sure the user's keywords exist and links them to item id.
func (s *Media) linkKeywords(ctx context.Context, tx bun.Tx, userID, id int64, kws []string, at time.Time) error {
	if len(kws) == 0 {
		return nil
	}
	for _, k := range kws {
		if _, err := tx.ExecContext(ctx, `INSERT INTO keywords (user_id, keyword, created_at)
			VALUES (?, ?, ?) ON CONFLICT (user_id, keyword) DO NOTHING`, userID, k, s.db.timeArg(at)); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO media_keywords (media_id, keyword_id, user_id)
		SELECT ?, id, user_id FROM keywords WHERE user_id = ? AND keyword IN (?)`,
		id, userID, bun.List(kws))
	return err
}

// one reads a single item matching where (with args) and its keywords.
func (s *Media) one(ctx context.Context, op, where string, args ...any) (*media.Item, error) {
	var row mediaRow
	if err := s.db.idb(ctx).NewRaw(`SELECT `+mediaCols+` FROM media_entries WHERE `+where, args...).Scan(ctx, &row); err != nil {
		return nil, mediaErr(op, err)
	}
	items := []media.Item{row.item()}
	if err := s.keywords(ctx, op, row.UserID, items); err != nil {
		return nil, err
	}
	return &items[0], nil
}

// keywords fills in the keywords of the user's items.
func (s *Media) keywords(ctx context.Context, op string, userID int64, items []media.Item) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]int64, len(items))
	at := make(map[int64]int, len(items))
	for i := range items {
		ids[i], at[items[i].ID] = items[i].ID, i
	}
	var links []struct {
		MediaID int64  `bun:"media_id"`
		Keyword string `bun:"keyword"`
	}
	err := s.db.idb(ctx).NewRaw(`SELECT mk.media_id, k.keyword FROM media_keywords mk
		JOIN keywords k ON k.id = mk.keyword_id AND k.user_id = mk.user_id
		WHERE mk.user_id = ? AND mk.media_id IN (?) ORDER BY mk.media_id, k.keyword`,
		userID, bun.List(ids)).Scan(ctx, &links)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return mediaErr(op, err)
	}
	for _, l := range links {
		it := &items[at[l.MediaID]]
		it.Keywords = append(it.Keywords, l.Keyword)
	}
	return nil
}

// ByID implements media.Store.
func (s *Media) ByID(ctx context.Context, userID, id int64) (*media.Item, error) {
	return s.one(ctx, "get media item", "id = ? AND user_id = ?", id, userID)
}

// ByIDAny implements media.Store.
func (s *Media) ByIDAny(ctx context.Context, id int64) (*media.Item, error) {
	return s.one(ctx, "get media item", "id = ?", id)
}

// ByHash implements media.Store.
func (s *Media) ByHash(ctx context.Context, userID int64, hash string) (*media.Item, error) {
	return s.one(ctx, "get media item by hash", "user_id = ? AND content_hash = ?", userID, hash)
}

// List implements media.Store.
func (s *Media) List(ctx context.Context, userID int64, o media.ListOptions) ([]media.Item, int, error) {
	return s.list(ctx, userID, false, o)
}

// ListTrash implements media.Store.
func (s *Media) ListTrash(ctx context.Context, userID int64, o media.ListOptions) ([]media.Item, int, error) {
	return s.list(ctx, userID, true, o)
}

func (s *Media) list(ctx context.Context, userID int64, trashed bool, o media.ListOptions) ([]media.Item, int, error) {
	if err := o.Valid(); err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.db.idb(ctx).NewRaw(`SELECT count(*) FROM media_entries WHERE user_id = ? AND is_trash = ?`,
		userID, trashed).Scan(ctx, &total); err != nil {
		return nil, 0, mediaErr("count media items", err)
	}
	var rows []mediaRow
	err := s.db.idb(ctx).NewRaw(`SELECT `+mediaCols+` FROM media_entries WHERE user_id = ? AND is_trash = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
		userID, trashed, o.PerPage, o.Offset()).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, mediaErr("list media items", err)
	}
	items := make([]media.Item, len(rows))
	for i := range rows {
		items[i] = rows[i].item()
	}
	if err := s.keywords(ctx, "list media items", userID, items); err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// Update implements media.Store.
func (s *Media) Update(ctx context.Context, it *media.Item, at time.Time) error {
	if it.Title == "" || it.MediaType == "" {
		return fmt.Errorf("%w: title and media type are required", media.ErrInvalid)
	}
	at = utc(at)
	kws := slices.Compact(slices.Sorted(slices.Values(it.Keywords)))
	err := s.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE media_entries SET title = ?, author = ?,
			media_type = ?, filename = ?, updated_at = ? WHERE id = ? AND user_id = ?`,
			it.Title, it.Author, it.MediaType, it.Filename, s.db.timeArg(at), it.ID, it.UserID)
		if err != nil {
			return err
		}
		if err := mediaAffected(res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM media_keywords WHERE media_id = ? AND user_id = ?`,
			it.ID, it.UserID); err != nil {
			return err
		}
		return s.linkKeywords(ctx, tx, it.UserID, it.ID, kws, at)
	})
	if err != nil {
		return mediaErr("update media item", err)
	}
	it.UpdatedAt, it.Keywords = at, kws
	return nil
}

// mediaAffected returns media.ErrNotFound when res changed no row.
func mediaAffected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: media item", media.ErrNotFound)
	}
	return nil
}

// SetTrashed implements media.Store.
func (s *Media) SetTrashed(ctx context.Context, userID, id int64, trashed bool, at time.Time) error {
	at = utc(at)
	var date any
	if trashed {
		date = s.db.timeArg(at)
	}
	res, err := s.db.idb(ctx).ExecContext(ctx, `UPDATE media_entries SET is_trash = ?, trash_date = ?,
		updated_at = ? WHERE id = ? AND user_id = ? AND is_trash <> ?`,
		trashed, date, s.db.timeArg(at), id, userID, trashed)
	if err != nil {
		return mediaErr("trash media item", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return mediaErr("trash media item", err)
	}
	// Nothing changed: already in that state, or not the user's.
	var one int
	err = s.db.idb(ctx).NewRaw(`SELECT 1 FROM media_entries WHERE id = ? AND user_id = ?`, id, userID).Scan(ctx, &one)
	return mediaErr("trash media item", err)
}

// Delete implements media.Store.
func (s *Media) Delete(ctx context.Context, userID, id int64) error {
	res, err := s.db.idb(ctx).ExecContext(ctx, `DELETE FROM media_entries WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return mediaErr("delete media item", err)
	}
	return mediaErr("delete media item", mediaAffected(res))
}

// Sizes implements media.Store.
func (s *Media) Sizes(ctx context.Context, userID int64) (map[string]int64, error) {
	rows, err := s.db.idb(ctx).QueryContext(ctx, `SELECT blob_key, size_bytes FROM media_entries WHERE user_id = ?`, userID)
	if err != nil {
		return nil, mediaErr("media sizes", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			key  string
			size int64
		)
		if err := rows.Scan(&key, &size); err != nil {
			return nil, mediaErr("media sizes", err)
		}
		out[key] = size
	}
	if err := rows.Err(); err != nil {
		return nil, mediaErr("media sizes", err)
	}
	return out, nil
}
