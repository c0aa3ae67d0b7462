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
