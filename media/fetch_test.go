package media_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
)

// fetcher serves fixed responses per URL; an absent URL is refused as blocked.
type fetcher map[string]media.Fetched

func (f fetcher) Fetch(_ context.Context, u string) (*media.Fetched, error) {
	r, ok := f[u]
	if !ok {
		return nil, fmt.Errorf("%w: %w: %s", media.ErrInvalid, media.ErrBlocked, u)
	}
	if r.Body == nil {
		r.Body = io.NopCloser(strings.NewReader(strings.Repeat("z", int(r.Size))))
	}
	return &r, nil
}

func body(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// fetchUsed is what the user fetched on the day of at, by the ledger.
func (e *env) fetchUsed(t *testing.T, user int64, at time.Time) int64 {
	t.Helper()
	day := quota.Budget{Resource: quota.ResourceURLFetchBytes}.Day(at)
	us, err := e.mem.Usage(context.Background(), fmt.Sprint(user))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Resource == day {
			if u.Reserved != 0 {
				t.Errorf("%s: %d bytes still reserved", day, u.Reserved)
			}
			return u.Used
		}
	}
	return 0
}

func TestUploadURL(t *testing.T) {
	e := newEnv(t)
	html := "<html><body><p>hello</p></body></html>"
	e.svc.Fetcher = fetcher{
		"https://example.com/":      {Body: body(html), URL: "https://example.com/", ContentType: "text/html; charset=utf-8", Size: -1},
		"https://example.com/a/doc": {Body: body(html), URL: "https://example.com/a/doc", ContentType: "text/html", Size: int64(len(html))},
	}
	e.svc.URLFetchBytesPerDay = 1000
	ctx := context.Background()
	res, err := e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: "https://example.com/", MediaType: media.TypeDocument})
	if err != nil {
		t.Fatal(err)
	}
	if it := res.Item; it.URL != "https://example.com/" || it.Filename != "example.com.html" || it.Size != int64(len(html)) || it.Title != "example.com" {
		t.Errorf("item = %+v", it)
	}
	e.wantUsage(t, alice, int64(len(html)), 0)
	if n := e.fetchUsed(t, alice, t0); n != int64(len(html)) {
		t.Errorf("fetched bytes charged = %d, want %d", n, len(html))
	}
	// The same page again under another URL: a duplicate, still fetched and charged.
	res, err = e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: "https://example.com/a/doc", MediaType: media.TypeDocument})
	if err != nil || res.Outcome != media.OutcomeDuplicate {
		t.Fatalf("second fetch = %+v, %v", res, err)
	}
	if n := e.fetchUsed(t, alice, t0); n != 2*int64(len(html)) {
		t.Errorf("fetched bytes charged = %d, want %d", n, 2*len(html))
	}

	if _, err := e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: "http://127.0.0.1/", MediaType: media.TypeDocument}); !errors.Is(err, media.ErrBlocked) {
		t.Errorf("blocked URL: %v", err)
	}
	if _, err := e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: "https://example.com/", MediaType: "movie"}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("bad media type: %v", err)
	}
	e.svc.Fetcher = nil
	if _, err := e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: "https://example.com/", MediaType: media.TypeDocument}); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("without a Fetcher: %v", err)
	}
}

// TestUploadURLBudget: a body declared over what is left of the day's fetch budget is refused
// unread; one of unknown size is cut off where the budget ends; both store nothing, are
// audited with the budget's code, and the next day has a fresh budget.
func TestUploadURLBudget(t *testing.T) {
	e := newEnv(t)
	e.svc.URLFetchBytesPerDay = 100
	ctx := context.Background()
	up := func(u string) error {
		_, err := e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: u, MediaType: media.TypeDocument})
		return err
	}
	e.svc.Fetcher = fetcher{
		"https://x.test/declared": {URL: "https://x.test/declared.txt", Size: 150},
		"https://x.test/unknown":  {Body: body(strings.Repeat("u", 150)), URL: "https://x.test/unknown.txt", Size: -1},
		"https://x.test/small":    {URL: "https://x.test/small.txt", Size: 60},
	}
	for _, u := range []string{"https://x.test/declared", "https://x.test/unknown"} {
		if err := up(u); !errors.Is(err, media.ErrBudgetExceeded) || !errors.Is(err, quota.ErrExceeded) ||
			!strings.Contains(err.Error(), media.CodeURLFetchBytesPerDay) {
			t.Errorf("%s: %v, want ErrBudgetExceeded with its code", u, err)
		}
	}
	e.wantNothingStored(t, alice)
	if n := e.fetchUsed(t, alice, t0); n != 100 {
		t.Errorf("charged %d bytes, want the 100 read before the budget ended", n)
	}
	evs := e.audit.Find(audit.QuotaExceeded)
	if len(evs) != 2 || evs[0].Error != media.CodeURLFetchBytesPerDay || evs[0].UserID != alice ||
		evs[0].Details["resource"] != string(quota.ResourceURLFetchBytes) {
		t.Errorf("audit = %+v, want two quota_exceeded events with the budget's code", evs)
	}
	if err := up("https://x.test/small"); !errors.Is(err, media.ErrBudgetExceeded) {
		t.Errorf("nothing left today: %v", err)
	}
	e.now = e.now.Add(24 * time.Hour)
	if err := up("https://x.test/small"); err != nil {
		t.Errorf("the next day: %v", err)
	}
	if n := e.fetchUsed(t, alice, e.now); n != 60 {
		t.Errorf("charged %d bytes on the next day, want 60", n)
	}
}

// videoSite is a VideoFetcher that serves one video per page URL and records its calls.
type videoSite struct {
	videos map[string]media.Fetched
	calls  []string
	limits []int64
}

func (v *videoSite) FetchVideo(_ context.Context, u string, maxBytes int64) (*media.Fetched, error) {
	v.calls = append(v.calls, u)
	v.limits = append(v.limits, maxBytes)
	f, ok := v.videos[u]
	switch {
	case !ok:
		return nil, media.Detailf(media.ErrUnsupported, "no video was found at the URL")
	case maxBytes >= 0 && f.Size > maxBytes:
		return nil, fmt.Errorf("%w: over %d bytes", media.ErrBudgetExceeded, maxBytes)
	}
	f.Body = io.NopCloser(strings.NewReader(strings.Repeat("v", int(f.Size))))
	return &f, nil
}

// TestUploadURLVideo: a web page for a video or audio item goes to the VideoFetcher of a
// WithVideo Fetcher, whose audio is stored with the site's title, uploader and page URL
// and charged to the fetch budget; documents and direct media are fetched as before, and a
// page over the budget is refused with the budget's code.
func TestUploadURLVideo(t *testing.T) {
	e := newEnv(t)
	html := "<html><body><video src=talk.mp4></video></body></html>"
	page := media.Fetched{URL: "https://videos.test/watch", ContentType: "text/html; charset=utf-8", Size: int64(len(html))}
	site := &videoSite{videos: map[string]media.Fetched{
		"https://videos.test/watch": {URL: "https://videos.test/watch?v=1", Filename: "A Talk.m4a", Size: 300,
			Metadata: map[string]string{"title": "A Talk", "uploader": "Alice", "duration": "3"}},
		"https://videos.test/long": {URL: "https://videos.test/long", Filename: "Long.m4a", Size: 800},
	}}
	e.svc.Fetcher = media.WithVideo(fetcher{
		"https://videos.test/watch":    page,
		"https://videos.test/long":     page,
		"https://videos.test/article":  page,
		"https://videos.test/talk.mp4": {URL: "https://videos.test/talk.mp4", ContentType: "video/mp4", Size: 50},
	}, site)
	e.svc.URLFetchBytesPerDay = 1000
	ctx := context.Background()
	up := func(u, mediaType, title string) (*media.Result, error) {
		return e.svc.UploadURL(ctx, media.URLUpload{Actor: media.Actor{UserID: alice}, URL: u, MediaType: mediaType, Title: title})
	}

	res, err := up("https://videos.test/watch", media.TypeVideo, "")
	if err != nil {
		t.Fatal(err)
	}
	if it := res.Item; it.Title != "A Talk" || it.Author != "Alice" || it.URL != "https://videos.test/watch?v=1" ||
		it.Filename != "A Talk.m4a" || it.Size != 300 {
		t.Errorf("video item = %+v", it)
	}
	if len(site.calls) != 1 || site.limits[0] != 1000 {
		t.Errorf("FetchVideo calls %v with limits %v, want one with the 1000 bytes left", site.calls, site.limits)
	}
	if n := e.fetchUsed(t, alice, t0); n != 300 {
		t.Errorf("charged %d bytes, want the video's 300 (the page read by the Fetcher is not)", n)
	}
	// The form's title wins; an audio item goes the same way.
	if err := e.svc.DeletePermanent(ctx, media.Actor{UserID: alice}, res.Item.ID); err != nil {
		t.Fatal(err)
	}
	if res, err = up("https://videos.test/watch", media.TypeAudio, "Mine"); err != nil || res.Item.Title != "Mine" || len(site.calls) != 2 {
		t.Errorf("audio with a title: %+v, %v; calls %v", res, err, site.calls)
	}
	// A document, and direct media, do not go through the VideoFetcher.
	if _, err := up("https://videos.test/article", media.TypeDocument, ""); err != nil {
		t.Fatal(err)
	}
	if res, err := up("https://videos.test/talk.mp4", media.TypeVideo, ""); err != nil || res.Item.Size != 50 {
		t.Fatalf("direct media: %+v, %v", res, err)
	}
	if len(site.calls) != 2 {
		t.Errorf("FetchVideo called for a document or direct media: %v", site.calls)
	}
	// 1000 - 300 - 300 - len(html) - 50 bytes are left: the 800-byte video is over them.
	_, err = up("https://videos.test/long", media.TypeVideo, "")
	if !errors.Is(err, media.ErrBudgetExceeded) || !strings.Contains(err.Error(), media.CodeURLFetchBytesPerDay) {
		t.Errorf("over the budget: %v, want ErrBudgetExceeded with its code", err)
	}
	if evs := e.audit.Find(audit.QuotaExceeded); len(evs) != 1 || evs[0].Error != media.CodeURLFetchBytesPerDay {
		t.Errorf("audit = %+v, want one quota_exceeded event", evs)
	}
	if want := int64(1000 - 600 - len(html) - 50); site.limits[len(site.limits)-1] != want {
		t.Errorf("limit passed = %d, want the %d left", site.limits[len(site.limits)-1], want)
	}
	// A page without video is the VideoFetcher's permanent error.
	delete(site.videos, "https://videos.test/watch")
	if _, err := up("https://videos.test/watch", media.TypeVideo, ""); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("no video: %v, want ErrUnsupported", err)
	}
}
