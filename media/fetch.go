package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
)

// Fetcher downloads a URL for ingest. media/httpfetch implements it behind an SSRF guard.
// Errors wrap ErrInvalid (not http(s), an HTTP 4xx, too many redirects; ErrBlocked too for
// an address that may not be reached), ErrTooLarge (over the size limit), or are transient.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string) (*Fetched, error)
}

// Fetched is a downloaded body. Close it.
type Fetched struct {
	Body        io.ReadCloser // fails with ErrTooLarge past the fetcher's size limit
	URL         string        // after redirects
	ContentType string        // as the server sent it, "" when absent
	Filename    string        // from Content-Disposition, else the last path segment
	Size        int64         // Content-Length, or -1 when unknown
	// Metadata is what a VideoFetcher learnt about the video: title, uploader, duration
	// (seconds), upload_date (YYYYMMDD), webpage_url, extractor, ext. nil from a Fetcher.
	Metadata map[string]string
}

// VideoFetcher downloads the audio of a video site's page (media/ytdlp). UploadURL uses it
// for a video or audio item whose URL is a web page, when the Fetcher is one made by
// WithVideo. FetchVideo returns at most maxBytes bytes (< 0: only the fetcher's own limit)
// as a Fetched with Metadata; its errors wrap ErrUnsupported (no video found), ErrTooLarge
// (over the fetcher's size or duration cap), ErrBudgetExceeded (over maxBytes), ErrBlocked
// and ErrInvalid (an address the SSRF guard refuses), or are Fetcher-like ones.
type VideoFetcher interface {
	FetchVideo(ctx context.Context, rawURL string, maxBytes int64) (*Fetched, error)
}

// WithVideo returns a Fetcher that fetches with f and also downloads video pages with v:
// the Service.Fetcher that gives URL ingest video sites.
func WithVideo(f Fetcher, v VideoFetcher) Fetcher { return withVideo{f, v} }

type withVideo struct {
	Fetcher
	VideoFetcher
}

// URLUpload is one URL to fetch and store (tldw's urls form field).
type URLUpload struct {
	Actor
	URL       string
	MediaType string // one of Types()
	Title     string // default: the file name without its extension
	Author    string
	Keywords  []string
	Overwrite bool
	Process   ProcessOptions
}

// UploadURL fetches u.URL through Fetcher and stores the bytes exactly like Upload (quota,
// duplicates, processing job), recording the URL on the item. The file name comes from the
// response (Content-Disposition or the URL's path), given an extension from the response's
// content type when it has none, so a web page is read by the HTML extractor. The bytes
// fetched count against the user's URLFetchBytesPerDay budget, also when storing fails.
//
// A web page for a video or audio item goes to the VideoFetcher of a WithVideo Fetcher
// instead (tldw's /media/add with media_type=video and a video site's URL): its audio is
// stored as the item's original, titled by the site unless u.Title is set, the uploader
// its author unless u.Author is, the page's URL recorded.
//
// Errors: Upload's, the Fetcher's (ErrInvalid, ErrBlocked, ErrTooLarge, transient ones),
// the VideoFetcher's, ErrBudgetExceeded (CodeURLFetchBytesPerDay, audited) and
// ErrUnsupported without a Fetcher.
func (s *Service) UploadURL(ctx context.Context, u URLUpload) (*Result, error) {
	if s.Fetcher == nil {
		return nil, fmt.Errorf("%w: URL ingest is not enabled on this server", ErrUnsupported)
	}
	if u.UserID <= 0 {
		return nil, fmt.Errorf("%w: no user", ErrInvalid)
	}
	if err := ValidType(u.MediaType); err != nil {
		return nil, err
	}
	b := s.fetchBudget()
	sub := subject(u.UserID)
	left, err := b.Remaining(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("media: read fetch budget: %w", err)
	}
	if left == 0 {
		return nil, s.budgetErr(ctx, u.Actor, b, CodeURLFetchBytesPerDay, 1, left)
	}
	f, err := s.fetch(ctx, u, left)
	if errors.Is(err, ErrBudgetExceeded) {
		return nil, s.budgetErr(ctx, u.Actor, b, CodeURLFetchBytesPerDay, left+1, left)
	}
	if err != nil {
		return nil, err
	}
	defer f.Body.Close()
	want := f.Size
	if left > 0 && (want < 0 || want > left) {
		if want > left {
			return nil, s.budgetErr(ctx, u.Actor, b, CodeURLFetchBytesPerDay, want, left)
		}
		want = left
	}
	res, err := b.Reserve(ctx, sub, max(want, 0), s.ttl())
	if errors.Is(err, quota.ErrExceeded) {
		return nil, s.budgetErr(ctx, u.Actor, b, CodeURLFetchBytesPerDay, want, left)
	}
	if err != nil {
		return nil, fmt.Errorf("media: reserve fetch budget: %w", err)
	}
	body := &fetchBody{r: f.Body, max: -1}
	if !b.Unlimited() {
		body.max = res.Amount
	}
	if u.Title == "" {
		u.Title = f.Metadata["title"]
	}
	if u.Author == "" {
		u.Author = f.Metadata["uploader"]
	}
	out, err := s.Upload(ctx, Upload{Actor: u.Actor, Filename: fetchedName(f), MediaType: u.MediaType,
		Title: u.Title, Author: u.Author, Keywords: u.Keywords, Overwrite: u.Overwrite, Body: body,
		DeclaredSize: f.Size, Process: u.Process, URL: f.URL})
	if cerr := b.Commit(context.WithoutCancel(ctx), res, body.n); cerr != nil {
		s.log().ErrorContext(ctx, "media: charge fetch budget", "reservation", res.ID, "error", cerr)
	}
	switch {
	case body.over:
		return nil, s.budgetErr(ctx, u.Actor, b, CodeURLFetchBytesPerDay, body.n+1, left)
	case err != nil && body.err != nil && (errors.Is(body.err, ErrTooLarge) || errors.Is(body.err, ErrInvalid)):
		return nil, body.err
	case err != nil && body.err != nil:
		return nil, fmt.Errorf("media: fetch %s: %w", f.URL, body.err) // the network: transient
	}
	return out, err
}

// fetch downloads u.URL with the Fetcher, or, when that finds a web page for a video or
// audio item and the Fetcher has a VideoFetcher (WithVideo), the page's audio with that,
// at most left bytes (< 0: unlimited).
func (s *Service) fetch(ctx context.Context, u URLUpload, left int64) (*Fetched, error) {
	f, err := s.Fetcher.Fetch(ctx, u.URL)
	if err != nil {
		return nil, err
	}
	v, ok := s.Fetcher.(VideoFetcher)
	ct, _, _ := mime.ParseMediaType(f.ContentType)
	if !ok || (u.MediaType != TypeVideo && u.MediaType != TypeAudio) || (ct != "text/html" && ct != "application/xhtml+xml") {
		return f, nil
	}
	f.Body.Close() // unread: the page is not charged; yt-dlp fetches it again
	return v.FetchVideo(ctx, u.URL, left)
}

func (s *Service) fetchBudget() quota.Budget {
	return quota.Budget{Ledger: s.Ledger, Resource: quota.ResourceURLFetchBytes, PerDay: s.URLFetchBytesPerDay, Now: s.Now}
}

// budgetErr audits and returns the ErrBudgetExceeded error of budget b (code names it).
func (s *Service) budgetErr(ctx context.Context, a Actor, b quota.Budget, code string, requested, left int64) error {
	e := budgetEvent(b, code, requested, left)
	e.TargetID = subject(a.UserID)
	s.audit(ctx, a, e)
	return budgetError(b, code, left)
}

func budgetEvent(b quota.Budget, code string, requested, left int64) audit.Event {
	return audit.Event{Action: audit.QuotaExceeded, TargetType: "user", Success: false, Error: code,
		Details: map[string]any{"resource": string(b.Resource), "per_day": b.PerDay,
			"requested": requested, "remaining": max(left, 0)}}
}

func budgetError(b quota.Budget, code string, left int64) error {
	return &BudgetError{Code: code, Resource: string(b.Resource), PerDay: b.PerDay, Left: max(left, 0)}
}

// fetchedName is the file name of a fetched body, with an extension from its content type
// when it has none: "" from https://example.com/ as text/html is "example.com.html".
func fetchedName(f *Fetched) string {
	name := SanitizeFilename(f.Filename)
	if extOf(name) != "" {
		return name
	}
	if name == "" {
		name = "index"
		if u, err := url.Parse(f.URL); err == nil && u.Hostname() != "" {
			if base := path.Base(u.Path); base == "." || base == "/" {
				name = u.Hostname() // a site's front page
			}
		}
	}
	ct, _, _ := mime.ParseMediaType(f.ContentType)
	ext := map[string]string{"text/html": ".html", "application/xhtml+xml": ".xhtml", "text/plain": ".txt",
		"application/pdf": ".pdf", "text/markdown": ".md", "application/json": ".json"}[ct]
	if ext == "" {
		if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
			ext = exts[0]
		}
	}
	return name + ext
}

// fetchBody counts the bytes read, remembers the first read error, and fails once more
// than max bytes (max ≥ 0) arrive: the fetch budget's reservation.
type fetchBody struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
	err  error
}

func (b *fetchBody) Read(p []byte) (int, error) {
	if b.max >= 0 && int64(len(p)) > b.max-b.n+1 {
		p = p[:b.max-b.n+1]
	}
	n, err := b.r.Read(p)
	if b.max >= 0 && b.n+int64(n) > b.max {
		b.over = true
		n = int(b.max - b.n)
		err = &BudgetError{Code: CodeURLFetchBytesPerDay, Resource: string(quota.ResourceURLFetchBytes)}
	}
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// CheckFetchURL parses a URL that URL ingest may fetch: absolute http(s), with a host and no
// credentials (ErrInvalid otherwise). The address guard comes after DNS, at dial time.
func CheckFetchURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: not a URL: %v", ErrInvalid, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: only http and https URLs can be fetched, not %q", ErrInvalid, u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("%w: URL has no host", ErrInvalid)
	case u.User != nil:
		return nil, fmt.Errorf("%w: URLs with credentials are not fetched", ErrInvalid)
	}
	return u, nil
}
