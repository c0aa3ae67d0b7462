package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// DefaultReservationTTL is how long an upload's quota reservation lives when
// Service.ReservationTTL is zero. A reservation left by a crashed process is released by the
// ledger's sweeper once it expires.
const DefaultReservationTTL = time.Hour

// Service stores media items: uploads are streamed into Blobs under a quota reservation,
// recorded in Store and audited. Set the fields before the first call and do not change them
// afterwards; Store, Blobs and Ledger are required. A Service is safe for concurrent use.
type Service struct {
	Store  Store
	Blobs  storage.Blobs
	Ledger quota.Ledger
	// Audit receives media_uploaded, media_deleted and quota_exceeded events; nil drops them.
	Audit audit.Sink
	// Sniffer names content types; nil names everything application/octet-stream.
	Sniffer Sniffer
	// MaxUploadBytes caps one upload (MAX_UPLOAD_SIZE_MB); 0 means no cap beyond the quota.
	MaxUploadBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReservationTTL is the lifetime of an upload's quota reservation; 0 means
	// DefaultReservationTTL. An upload still running when it expires is charged its actual
	// size anyway (Ledger.Add), possibly past the limit.
	ReservationTTL time.Duration
	// Logger receives cleanup failures (a blob that could not be deleted, a ledger update
	// that failed after the item was gone); nil discards them.
	Logger *slog.Logger
	// Jobs, when set, enqueues a processing job for every new item in the transaction that
	// records it (pipeline_service.go); nil stores items without processing them.
	Jobs Jobs
	// Processing, when set, serves processing state, content and chunks.
	Processing ProcessingStore
	// Pipeline, when set, extracts and chunks the inputs of ProcessEphemeral (its Extractor,
	// Chunker and OCR budget); nil refuses them.
	Pipeline *Pipeline
	// AddWait is how long an ingest request should wait for processing (WaitProcessed)
	// before answering with the job still running (MEDIA_ADD_WAIT_SECONDS); read by the
	// HTTP layer.
	AddWait time.Duration
	// Fetcher downloads URLs for UploadURL; nil refuses URL ingest.
	Fetcher Fetcher
	// URLFetchBytesPerDay is each user's daily allowance of bytes fetched by UploadURL
	// (MEDIA_URL_FETCH_BYTES_PER_DAY); 0 means unlimited.
	URLFetchBytesPerDay int64
	// EphemeralPerUser bounds one user's ProcessEphemeral calls running at once in this
	// process (MEDIA_MAX_ACTIVE_JOBS_PER_USER, like the durable jobs, but counted per
	// process: with N replicas a user may run up to N times as many); one more is refused
	// with ErrTooManyJobs. 0 means no bound.
	EphemeralPerUser int

	ephemeral userSlots // running ProcessEphemeral calls per user
}

// Actor is who makes a request, for authorisation and the audit trail.
type Actor struct {
	UserID   int64
	Username string
	// ReadAny lets the actor read (never change) any user's items: admins
	// (auth.PermMediaReadAny).
	ReadAny bool
	// Request facts copied into audit events.
	IP, UserAgent, RequestID, Method, Path string
}

// Upload is one file to store.
type Upload struct {
	Actor
	Filename  string // the client's name; sanitised, display only
	MediaType string // one of Types()
	Title     string // default: the filename without its extension
	Author    string
	Keywords  []string
	// Overwrite (overwrite_existing): when the user already has an item with the same
	// content, update its metadata (and take it out of the trash) instead of reporting a
	// duplicate.
	Overwrite bool
	Body      io.Reader
	// DeclaredSize is the body's size when known, else an upper bound on it (such as what is
	// left of the request body), or -1 when unknown. It sizes the quota reservation taken
	// before the body is read; one that exceeds the remaining allowance or MaxUploadBytes by
	// more than DeclaredSlack is refused without reading the body.
	DeclaredSize int64
	// Process says how the new item is processed (with Service.Jobs).
	Process ProcessOptions
	// URL is where the bytes were fetched from (UploadURL), recorded on the item.
	URL string
}

// DeclaredSlack is how far Upload.DeclaredSize may overstate the body (multipart framing and
// trailing form fields) before an upload is refused early on its declared size alone.
const DeclaredSlack = 64 << 10

// Outcome says what an upload did.
type Outcome string

// The outcomes of a successful Upload.
const (
	OutcomeCreated     Outcome = "created"     // a new item was stored
	OutcomeDuplicate   Outcome = "duplicate"   // the user already had this content; nothing changed
	OutcomeOverwritten Outcome = "overwritten" // the existing item's metadata was replaced
)

// Result is a successful upload.
type Result struct {
	Item    *Item
	Outcome Outcome
	// Message is tldw_server's db_message ("Media 'x' added.", "... already exists.
	// Overwrite not enabled.").
	Message string
	// Warnings are non-fatal observations (the content does not look like media_type).
	Warnings []string
	// Job is the new item's processing job (OutcomeCreated with Service.Jobs), else nil.
	Job *Job
}

// Page is one page of a list.
type Page struct {
	Items []Item
	Total int
	ListOptions
}

// TotalPages is the number of pages of PerPage items.
func (p Page) TotalPages() int {
	if p.PerPage <= 0 {
		return 0
	}
	return (p.Total + p.PerPage - 1) / p.PerPage
}

// subject is the ledger subject of a user.
func subject(userID int64) string { return strconv.FormatInt(userID, 10) }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) ttl() time.Duration {
	if s.ReservationTTL > 0 {
		return s.ReservationTTL
	}
	return DefaultReservationTTL
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) audit(ctx context.Context, a Actor, e audit.Event) {
	if s.Audit == nil {
		return
	}
	e.UserID, e.Username = a.UserID, a.Username
	e.IP, e.UserAgent, e.RequestID, e.Method, e.Path = a.IP, a.UserAgent, a.RequestID, a.Method, a.Path
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if err := s.Audit.Write(ctx, e); err != nil {
		s.log().ErrorContext(ctx, "media: audit write failed", "action", e.Action, "error", err)
	}
}

// Upload streams u.Body into a new item. It reserves quota before reading a byte
// (u.DeclaredSize capped by MaxUploadBytes and the remaining allowance; for a body of unknown
// size under a quota, reserveStep, extended in doubling steps as the bytes arrive, so that
// parallel uploads do not each hold the whole allowance), hashes and sniffs while streaming,
// stores the blob under a server-generated key, and records the item and commits the
// reservation to the actual size in one Ledger.Locked step. When the user already has the
// same content it returns the existing item (OutcomeDuplicate), or with u.Overwrite updates
// its metadata (OutcomeOverwritten); the new copy is discarded either way.
//
// Errors: ErrInvalid (media type, empty file, field limits), ErrTooLarge (past
// MaxUploadBytes), ErrQuotaExceeded (also quota.ErrExceeded; audited as quota_exceeded),
// ErrIncomplete (the body failed or was truncated), or a backend error. On every error
// nothing is left behind: no blob, no row, no reserved bytes.
func (s *Service) Upload(ctx context.Context, u Upload) (*Result, error) {
	in, err := s.prepare(u)
	if err != nil {
		return nil, err
	}
	sub := subject(u.UserID)
	remaining, err := s.remaining(ctx, sub)
	if err != nil {
		return nil, err
	}
	if d := u.DeclaredSize; d >= 0 {
		if s.MaxUploadBytes > 0 && d > s.MaxUploadBytes+DeclaredSlack {
			return nil, fmt.Errorf("%w: declared %d bytes, more than %d", ErrTooLarge, d, s.MaxUploadBytes)
		}
		if remaining >= 0 && d > remaining+DeclaredSlack {
			s.auditQuota(ctx, u.Actor, d, remaining)
			return nil, fmt.Errorf("%w (%w): declared %d bytes, %d left", ErrQuotaExceeded, quota.ErrExceeded, d, remaining)
		}
	}
	want := u.DeclaredSize
	if s.MaxUploadBytes > 0 && (want < 0 || want > s.MaxUploadBytes) {
		want = s.MaxUploadBytes
	}
	if remaining >= 0 && (want < 0 || want > remaining) {
		want = remaining
	}
	if want < 0 {
		want = 0 // unknown size, no cap, unlimited quota: commit measures
	}
	stepped := u.DeclaredSize < 0 && remaining >= 0
	if stepped {
		want = min(want, reserveStep)
	}
	if remaining == 0 {
		s.auditQuota(ctx, u.Actor, u.DeclaredSize, remaining)
		return nil, fmt.Errorf("%w (%w): no storage left", ErrQuotaExceeded, quota.ErrExceeded)
	}
	res, err := s.Ledger.Reserve(ctx, sub, quota.ResourceStorage, want, s.ttl())
	if stepped && errors.Is(err, quota.ErrExceeded) {
		// Other uploads hold the first step's room: start empty and grow by what arrives.
		res, err = s.Ledger.Reserve(ctx, sub, quota.ResourceStorage, 0, s.ttl())
	}
	if errors.Is(err, quota.ErrExceeded) {
		s.auditQuota(ctx, u.Actor, want, remaining)
		return nil, fmt.Errorf("%w (%w): concurrent uploads used the remaining storage", ErrQuotaExceeded, quota.ErrExceeded)
	}
	if err != nil {
		return nil, fmt.Errorf("media: reserve storage: %w", err)
	}
	// From here on the reservation is released unless it was committed.
	committed := false
	defer func() {
		if !committed {
			if err := s.Ledger.Release(context.WithoutCancel(ctx), res); err != nil {
				s.log().ErrorContext(ctx, "media: release reservation", "reservation", res.ID, "error", err)
			}
		}
	}()

	limit := int64(-1) // the most bytes this upload may have
	switch {
	case remaining >= 0 && !stepped:
		limit = res.Amount
	case s.MaxUploadBytes > 0:
		limit = s.MaxUploadBytes
	}
	if u.DeclaredSize >= 0 && (limit < 0 || u.DeclaredSize < limit) {
		limit = u.DeclaredSize
	}
	var grow func(total int64) error
	if stepped {
		grow = func(total int64) error { return s.grow(ctx, &res, total) }
	}
	stored, err := s.stream(ctx, in, u.Body, limit, grow)
	if err != nil {
		if errors.Is(err, errOverLimit) {
			return nil, s.overLimit(ctx, u, remaining, limit)
		}
		if errors.Is(err, quota.ErrExceeded) {
			s.auditQuota(ctx, u.Actor, res.Amount+1, remaining)
			return nil, fmt.Errorf("%w (%w): the file does not fit in the remaining storage", ErrQuotaExceeded, quota.ErrExceeded)
		}
		return nil, err
	}
	// Recording the item and charging its bytes are one step for a recalculation.
	var out *Result
	err = s.Ledger.Locked(ctx, sub, quota.ResourceStorage, func(ctx context.Context) error {
		var err error
		if out, err = s.record(ctx, in, stored, u.Overwrite, u.Process); err != nil || out.Outcome != OutcomeCreated {
			return err
		}
		return s.commit(ctx, res, stored.size)
	})
	if err != nil || out.Outcome != OutcomeCreated {
		if err != nil && out != nil && out.Outcome == OutcomeCreated {
			s.deleteItem(ctx, out.Item) // unless the ledger's transaction rolled the row back
		} else {
			s.deleteBlob(ctx, stored.key)
		}
		if err != nil {
			return nil, err
		}
		return out, nil // duplicate or overwrite: the reservation is released
	}
	committed = true
	s.audit(ctx, u.Actor, audit.Event{Action: audit.MediaUploaded, TargetType: "media",
		TargetID: strconv.FormatInt(out.Item.ID, 10), Success: true,
		Details: map[string]any{"size_bytes": stored.size, "content_type": stored.contentType,
			"media_type": in.MediaType, "content_hash": stored.hash}})
	return out, nil
}

// prepare validates and normalises an upload's metadata into a new (unsaved) item.
func (s *Service) prepare(u Upload) (*Item, error) {
	if u.UserID <= 0 {
		return nil, Detailf(ErrInvalid, "no user")
	}
	if u.Body == nil {
		return nil, Detailf(ErrInvalid, "no file")
	}
	if err := ValidType(u.MediaType); err != nil {
		return nil, err
	}
	name := SanitizeFilename(u.Filename)
	title := strings.TrimSpace(u.Title)
	if title == "" {
		title = strings.TrimSpace(strings.TrimSuffix(name, extOf(name)))
	}
	if title == "" {
		title = "Untitled"
	}
	if utf8.RuneCountInString(title) > MaxTitleLen || !utf8.ValidString(title) {
		return nil, Detailf(ErrInvalid, "title must be at most %d characters of valid text", MaxTitleLen)
	}
	author := strings.TrimSpace(u.Author)
	if utf8.RuneCountInString(author) > MaxAuthorLen || !utf8.ValidString(author) {
		return nil, Detailf(ErrInvalid, "author must be at most %d characters of valid text", MaxAuthorLen)
	}
	kws, err := NormalizeKeywords(u.Keywords)
	if err != nil {
		return nil, err
	}
	return &Item{UserID: u.UserID, Title: title, Author: author, MediaType: u.MediaType,
		Filename: name, Status: StatusStored, Keywords: kws, URL: u.URL}, nil
}

// extOf is the extension of a file name, as path.Ext but for names only.
func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// Reservation steps of an upload of unknown size: it starts at reserveStep and grows by its
// current amount (doubling) up to maxReserveStep at a time.
const (
	reserveStep    = 1 << 20
	maxReserveStep = 64 << 20
)

// grow extends *res until it holds at least total bytes: by doubling steps, or when such a
// step does not fit, by exactly what is missing. quota.ErrExceeded only when even that
// does not fit.
func (s *Service) grow(ctx context.Context, res *quota.Reservation, total int64) error {
	for total > res.Amount {
		need := total - res.Amount
		step := max(need, min(max(res.Amount, reserveStep), maxReserveStep))
		next, err := s.Ledger.Extend(ctx, *res, step)
		if errors.Is(err, quota.ErrExceeded) && step > need {
			next, err = s.Ledger.Extend(ctx, *res, need)
		}
		if err != nil {
			if errors.Is(err, quota.ErrExceeded) {
				return err
			}
			return fmt.Errorf("media: extend storage reservation: %w", err)
		}
		*res = next
	}
	return nil
}

// remaining returns what is left of the user's storage allowance, -1 for unlimited.
func (s *Service) remaining(ctx context.Context, sub string) (int64, error) {
	us, err := s.Ledger.Usage(ctx, sub)
	if err != nil {
		return 0, fmt.Errorf("media: read storage usage: %w", err)
	}
	for _, u := range us {
		if u.Resource == quota.ResourceStorage {
			if u.Limit < 0 {
				return -1, nil
			}
			return max(0, u.Limit-u.Used-u.Reserved), nil
		}
	}
	return -1, nil
}

// overLimit builds the error for a body that went past limit: past MaxUploadBytes is
// ErrTooLarge, past the quota allowance ErrQuotaExceeded (audited), past a declared size
// ErrInvalid.
func (s *Service) overLimit(ctx context.Context, u Upload, remaining, limit int64) error {
	switch {
	case s.MaxUploadBytes > 0 && limit >= s.MaxUploadBytes:
		return fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, s.MaxUploadBytes)
	case remaining >= 0 && limit >= remaining:
		s.auditQuota(ctx, u.Actor, limit+1, remaining)
		return fmt.Errorf("%w (%w): the file does not fit in the remaining %d bytes", ErrQuotaExceeded, quota.ErrExceeded, remaining)
	default:
		return Detailf(ErrInvalid, "the body is larger than its declared size")
	}
}

func (s *Service) auditQuota(ctx context.Context, a Actor, requested, remaining int64) {
	s.audit(ctx, a, audit.Event{Action: audit.QuotaExceeded, TargetType: "user",
		TargetID: subject(a.UserID), Success: false, Error: "storage quota exceeded",
		Details: map[string]any{"resource": string(quota.ResourceStorage),
			"requested_bytes": requested, "remaining_bytes": remaining}})
}

// storedBlob is what stream wrote.
type storedBlob struct {
	key, hash, contentType string
	size                   int64
}

// errOverLimit marks a body longer than the upload's limit.
var errOverLimit = errors.New("media: over limit")

// stream reads the head for sniffing, then streams head+rest through the hash and the limit
// into a new blob; grow, when set, is asked to cover the bytes read so far before they
// pass (its error ends the upload). On any error nothing is stored.
func (s *Service) stream(ctx context.Context, it *Item, body io.Reader, limit int64, grow func(total int64) error) (*storedBlob, error) {
	br := &bodyReader{r: body}
	head := make([]byte, SniffLen)
	n, _ := io.ReadFull(br, head) // a short file is fine; a failed body is not
	if br.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, br.err)
	}
	head = head[:n]
	if n == 0 {
		return nil, Detailf(ErrInvalid, "the file is empty")
	}
	ctype := "application/octet-stream"
	if s.Sniffer != nil {
		if t := s.Sniffer.Sniff(head, it.Filename); t != "" {
			ctype = t
		}
	}
	id := uuid.NewString()
	key := blobKey(it.UserID, s.now(), id, safeExt(it.Filename))
	h := sha256.New()
	lim := storage.LimitReader(io.MultiReader(bytes.NewReader(head), br), limit)
	lr := &meter{r: lim, h: h, grow: grow}
	opts := storage.PutOptions{ContentType: ctype}
	if limit > 0 {
		opts.MaxSize = limit
	}
	info, err := s.Blobs.Put(ctx, key, lr, opts)
	switch {
	case lr.growErr != nil:
		s.deleteBlob(ctx, key)
		return nil, lr.growErr
	case lim.Exceeded() || errors.Is(err, storage.ErrTooLarge):
		s.deleteBlob(ctx, key) // Put stores nothing on error; this is belt and braces
		return nil, errOverLimit
	case br.err != nil:
		s.deleteBlob(ctx, key)
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, br.err)
	case err != nil:
		s.deleteBlob(ctx, key)
		return nil, fmt.Errorf("media: store blob: %w", err)
	case info.Size != lr.n:
		s.deleteBlob(ctx, key)
		return nil, fmt.Errorf("media: store blob: stored %d bytes of %d", info.Size, lr.n)
	}
	it.UUID = id
	return &storedBlob{key: key, hash: hex.EncodeToString(h.Sum(nil)), contentType: ctype, size: lr.n}, nil
}

// record saves the item for a stored blob, or resolves a duplicate.
func (s *Service) record(ctx context.Context, it *Item, b *storedBlob, overwrite bool, o ProcessOptions) (*Result, error) {
	it.ContentHash, it.ContentType, it.Size, it.BlobKey = b.hash, b.contentType, b.size, b.key
	warnings := typeWarnings(it.MediaType, it.ContentType)
	for range 2 { // a concurrent upload of the same content may win the race once
		old, err := s.Store.ByHash(ctx, it.UserID, b.hash)
		switch {
		case err == nil:
			return s.duplicate(ctx, it, old, overwrite, warnings)
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("media: look up duplicate: %w", err)
		}
		now := s.now()
		it.CreatedAt, it.UpdatedAt = now, now
		job, err := s.create(ctx, it, o)
		if err == nil {
			return &Result{Item: it, Outcome: OutcomeCreated, Warnings: warnings, Job: job,
				Message: fmt.Sprintf("Media '%s' added.", it.Title)}, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("media: save item: %w", err)
		}
	}
	return nil, fmt.Errorf("media: save item: %w", ErrConflict)
}

// duplicate handles an upload whose content the user already has.
func (s *Service) duplicate(ctx context.Context, it, old *Item, overwrite bool, warnings []string) (*Result, error) {
	if !overwrite {
		return &Result{Item: old, Outcome: OutcomeDuplicate, Warnings: warnings,
			Message: fmt.Sprintf("Media '%s' already exists. Overwrite not enabled.", old.Title)}, nil
	}
	old.Title, old.Author, old.MediaType, old.Keywords = it.Title, it.Author, it.MediaType, it.Keywords
	if it.Filename != "" {
		old.Filename = it.Filename
	}
	now := s.now()
	if err := s.Store.Update(ctx, old, now); err != nil {
		return nil, fmt.Errorf("media: overwrite item: %w", err)
	}
	if old.Trashed {
		if err := s.Store.SetTrashed(ctx, old.UserID, old.ID, false, now); err != nil {
			return nil, fmt.Errorf("media: restore overwritten item: %w", err)
		}
		old.Trashed, old.TrashedAt = false, nil
	}
	old.UpdatedAt = now
	return &Result{Item: old, Outcome: OutcomeOverwritten, Warnings: warnings,
		Message: fmt.Sprintf("Media '%s' updated (overwrite_existing).", old.Title)}, nil
}

// commit charges the stored size; if the reservation expired meanwhile (a very slow upload
// swept away), the size is added directly.
func (s *Service) commit(ctx context.Context, res quota.Reservation, size int64) error {
	err := s.Ledger.Commit(ctx, res, size)
	if errors.Is(err, quota.ErrNotFound) {
		err = s.Ledger.Add(ctx, res.Subject, res.Resource, size)
	}
	if err != nil {
		return fmt.Errorf("media: commit storage: %w", err)
	}
	return nil
}

// deleteBlob removes a blob on a cleanup path, logging a failure.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if err := s.Blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log().ErrorContext(ctx, "media: delete blob", "key", key, "error", err)
	}
}

// deleteItem removes a just-created item and its blob on a cleanup path.
func (s *Service) deleteItem(ctx context.Context, it *Item) {
	ctx = context.WithoutCancel(ctx)
	if err := s.Store.Delete(ctx, it.UserID, it.ID); err != nil && !errors.Is(err, ErrNotFound) {
		s.log().ErrorContext(ctx, "media: delete item", "id", it.ID, "error", err)
	}
	s.deleteBlob(ctx, it.BlobKey)
}

// typeWarnings notes when sniffed content does not look like the declared media type.
func typeWarnings(mediaType, contentType string) []string {
	ok := true
	switch mediaType {
	case TypeVideo:
		ok = strings.HasPrefix(contentType, "video/") || contentType == "application/octet-stream"
	case TypeAudio:
		ok = strings.HasPrefix(contentType, "audio/") || strings.HasPrefix(contentType, "video/") ||
			contentType == "application/octet-stream"
	case TypePDF:
		ok = contentType == "application/pdf"
	}
	if ok {
		return nil
	}
	return []string{fmt.Sprintf("content looks like %s, not %s", contentType, mediaType)}
}

// bodyReader remembers the body's first error other than io.EOF, telling a failed client
// from a failed backend.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// meter hashes and counts what passes, and fails once grow (when set) refuses to cover
// it, without returning the bytes it refused.
type meter struct {
	r       io.Reader
	h       hash.Hash
	grow    func(total int64) error
	n       int64
	growErr error
}

func (l *meter) Read(p []byte) (int, error) {
	if l.growErr != nil {
		return 0, l.growErr
	}
	n, err := l.r.Read(p)
	if l.grow != nil && n > 0 {
		if l.growErr = l.grow(l.n + int64(n)); l.growErr != nil {
			return 0, l.growErr
		}
	}
	l.n += int64(n)
	l.h.Write(p[:n])
	return n, err
}
