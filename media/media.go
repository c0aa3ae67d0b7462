package media

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is where an item is in its life: stored (the bytes are kept, nothing derived yet);
// later capabilities add processing states.
type Status string

// StatusStored: the upload is stored and not yet processed.
const StatusStored Status = "stored"

// The media types tldw_server accepts in media_type.
const (
	TypeVideo    = "video"
	TypeAudio    = "audio"
	TypeDocument = "document"
	TypePDF      = "pdf"
	TypeEbook    = "ebook"
	TypeEmail    = "email"
	TypeCode     = "code"
)

var mediaTypes = []string{TypeVideo, TypeAudio, TypeDocument, TypePDF, TypeEbook, TypeEmail, TypeCode}

// Types returns the accepted media types (a fresh slice).
func Types() []string { return slices.Clone(mediaTypes) }

// Field limits (tldw_server's AddMediaForm).
const (
	MaxTitleLen    = 500  // characters
	MaxAuthorLen   = 255  // characters
	MaxKeywordsLen = 1000 // characters of the comma-separated keywords string
	MaxKeywordLen  = 100  // characters of one keyword
	MaxKeywords    = 50   // keywords per item
	MaxFilenameLen = 255  // bytes of a sanitised filename
)

// Item is one stored media item. Every item belongs to exactly one user.
type Item struct {
	ID          int64
	UUID        string
	UserID      int64
	Title       string
	Author      string
	MediaType   string // one of Types()
	Filename    string // the client's file name, sanitised; display metadata only
	ContentType string // sniffed from the bytes, never taken from the client
	Size        int64  // bytes
	ContentHash string // lower-case hex SHA-256 of the bytes
	BlobKey     string // server-generated storage key, "<user_id>/<yyyy>/<mm>/<uuid><ext>"
	URL         string // where the bytes were fetched from (Service.UploadURL); "" for uploads
	Status      Status
	Keywords    []string // normalised: trimmed, lower case, unique, sorted
	Trashed     bool
	TrashedAt   *time.Time // set exactly when Trashed
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ListOptions select one page of a list, newest first.
type ListOptions struct {
	Page    int // from 1
	PerPage int // 1..MaxPerPage
}

// MaxPerPage bounds ListOptions.PerPage.
const MaxPerPage = 100

// Valid returns an ErrInvalid-wrapped error unless Page ≥ 1 and 1 ≤ PerPage ≤ MaxPerPage.
func (o ListOptions) Valid() error {
	if o.Page < 1 {
		return Detailf(ErrInvalid, "page must be at least 1")
	}
	if o.PerPage < 1 || o.PerPage > MaxPerPage {
		return Detailf(ErrInvalid, "results_per_page must be between 1 and %d", MaxPerPage)
	}
	return nil
}

// Offset is the number of items before the page.
func (o ListOptions) Offset() int { return (o.Page - 1) * o.PerPage }

// Store keeps media items. Every method that takes a userID touches only that user's items:
// another user's item is ErrNotFound, exactly like a missing one. Implementations are safe for
// concurrent use; mediatest.TestStore is their conformance suite.
type Store interface {
	// Create inserts it (UserID, Title, MediaType, ContentHash, BlobKey and Status set) with
	// its keywords, outside the trash, and sets ID, UUID (unless given), CreatedAt and
	// UpdatedAt (now when zero). ErrConflict when the user already has an item with the content hash, or the
	// blob key or UUID is taken; ErrInvalid for a missing required field.
	Create(ctx context.Context, it *Item) error
	// ByID returns the user's item, trashed or not. ErrNotFound when absent or not theirs.
	ByID(ctx context.Context, userID, id int64) (*Item, error)
	// ByIDAny returns any user's item, for admin reads only. ErrNotFound when absent.
	ByIDAny(ctx context.Context, id int64) (*Item, error)
	// ByHash returns the user's item (trashed or not) with the content hash. ErrNotFound.
	ByHash(ctx context.Context, userID int64, hash string) (*Item, error)
	// List returns one page of the user's items not in the trash, newest first (ties by
	// id, descending), and the number of such items.
	List(ctx context.Context, userID int64, o ListOptions) ([]Item, int, error)
	// ListTrash is List for the user's trashed items.
	ListTrash(ctx context.Context, userID int64, o ListOptions) ([]Item, int, error)
	// Update stores it.Title, Author, MediaType, Filename and Keywords (an overwrite of the
	// same content) and sets UpdatedAt to at. ErrNotFound unless it.ID is it.UserID's.
	Update(ctx context.Context, it *Item, at time.Time) error
	// SetTrashed moves the user's item to the trash (trashed, at the time at) or restores
	// it. ErrNotFound when absent or not theirs; idempotent otherwise.
	SetTrashed(ctx context.Context, userID, id int64, trashed bool, at time.Time) error
	// Delete removes the user's item and its keyword links for good. ErrNotFound.
	Delete(ctx context.Context, userID, id int64) error
	// Sizes returns blob key → size of every item of the user, trashed ones included
	// (quota reconciliation).
	Sizes(ctx context.Context, userID int64) (map[string]int64, error)
}

// Sniffer names the content type of a file from its first bytes (up to SniffLen); the
// filename may refine a generic answer but never overrides the bytes. It returns a MIME type
// such as "video/mp4" or "application/octet-stream" and must be safe for concurrent use.
// media/mimesniff implements it.
type Sniffer interface {
	Sniff(head []byte, filename string) string
}

// SniffLen is how many leading bytes an upload's Sniffer sees.
const SniffLen = 4096

// ValidType returns an ErrInvalid-wrapped error unless t is one of Types().
func ValidType(t string) error {
	if !slices.Contains(mediaTypes, t) {
		return Detailf(ErrInvalid, "media_type must be one of %s", strings.Join(mediaTypes, ", "))
	}
	return nil
}

// SanitizeFilename makes a client-supplied file name safe to store and show: only the last
// path element (of / or \ separated paths) is kept; invalid UTF-8, control, format (bidi
// overrides) and other invisible characters are dropped; surrounding spaces and dots are
// trimmed; the result is cut to MaxFilenameLen bytes keeping the extension when it can. It
// returns "" when nothing is left. The name is display metadata only and never a path.
func SanitizeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, r == '"', unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			!unicode.IsPrint(r) && r != ' ':
			continue
		}
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), " .")
	if len(s) > MaxFilenameLen {
		ext := path.Ext(s)
		if len(ext) > 16 {
			ext = ""
		}
		s = truncateUTF8(strings.TrimSuffix(s, ext), MaxFilenameLen-len(ext)) + ext
	}
	return s
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ParseKeywords splits tldw_server's comma-separated keywords string and normalises it with
// NormalizeKeywords. ErrInvalid when the string is longer than MaxKeywordsLen characters.
func ParseKeywords(s string) ([]string, error) {
	if utf8.RuneCountInString(s) > MaxKeywordsLen {
		return nil, Detailf(ErrInvalid, "keywords must be at most %d characters", MaxKeywordsLen)
	}
	return NormalizeKeywords(strings.Split(s, ","))
}

// NormalizeKeywords trims, lower-cases, de-duplicates and sorts keywords, dropping empty
// ones. ErrInvalid when one is longer than MaxKeywordLen characters, holds a control
// character, or there are more than MaxKeywords.
func NormalizeKeywords(in []string) ([]string, error) {
	var out []string
	for _, k := range in {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if utf8.RuneCountInString(k) > MaxKeywordLen || !utf8.ValidString(k) ||
			strings.IndexFunc(k, unicode.IsControl) >= 0 {
			return nil, Detailf(ErrInvalid, "a keyword must be at most %d printable characters", MaxKeywordLen)
		}
		out = append(out, k)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxKeywords {
		return nil, Detailf(ErrInvalid, "at most %d keywords", MaxKeywords)
	}
	return out, nil
}

// safeExts are the file extensions a blob key may carry: formats a static file server
// (nginx serving /media/<user_id>/...) cannot turn into active content on our origin.
// Anything else (html, svg, xml, js, unknown) is stored as ".bin".
var safeExts = []string{
	".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".ogv", ".flv", ".wmv",
	".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".wma", ".amr",
	".pdf", ".epub", ".mobi", ".azw3", ".fb2", ".djvu",
	".txt", ".md", ".rst", ".csv", ".tsv", ".json", ".srt", ".vtt",
	".doc", ".docx", ".odt", ".rtf", ".ppt", ".pptx", ".odp", ".xls", ".xlsx", ".ods",
	".eml", ".msg", ".mbox", ".zip",
	".py", ".go", ".c", ".h", ".cpp", ".hpp", ".java", ".rs", ".rb", ".ts", ".sh",
}

// safeExt returns the blob-key extension for a sanitised filename.
func safeExt(filename string) string {
	ext := strings.ToLower(path.Ext(filename))
	if slices.Contains(safeExts, ext) {
		return ext
	}
	return ".bin"
}

// blobKey is "<user_id>/<yyyy>/<mm>/<uuid><ext>".
func blobKey(userID int64, at time.Time, id, ext string) string {
	at = at.UTC()
	return fmt.Sprintf("%d/%04d/%02d/%s%s", userID, at.Year(), int(at.Month()), id, ext)
}
