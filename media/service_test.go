package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

const (
	alice int64 = 7
	bob   int64 = 8
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ledger wraps a quota.Ledger; a non-nil XxxFn replaces that method.
type ledger struct {
	quota.Ledger
	ReserveFn func(ctx context.Context, subject string, r quota.Resource, n int64, ttl time.Duration) (quota.Reservation, error)
	CommitFn  func(ctx context.Context, res quota.Reservation, actual int64) error
	ReleaseFn func(ctx context.Context, res quota.Reservation) error
}

func (l *ledger) Reserve(ctx context.Context, subject string, r quota.Resource, n int64, ttl time.Duration) (quota.Reservation, error) {
	if l.ReserveFn != nil {
		return l.ReserveFn(ctx, subject, r, n, ttl)
	}
	return l.Ledger.Reserve(ctx, subject, r, n, ttl)
}

func (l *ledger) Commit(ctx context.Context, res quota.Reservation, actual int64) error {
	if l.CommitFn != nil {
		return l.CommitFn(ctx, res, actual)
	}
	return l.Ledger.Commit(ctx, res, actual)
}

func (l *ledger) Release(ctx context.Context, res quota.Reservation) error {
	if l.ReleaseFn != nil {
		return l.ReleaseFn(ctx, res)
	}
	return l.Ledger.Release(ctx, res)
}

// store wraps a media.Store; CreateFn replaces Create when set.
type store struct {
	media.Store
	CreateFn func(ctx context.Context, it *media.Item) error
}

func (s *store) Create(ctx context.Context, it *media.Item) error {
	if s.CreateFn != nil {
		return s.CreateFn(ctx, it)
	}
	return s.Store.Create(ctx, it)
}

// sniffer is a fake media.Sniffer: PDFs by magic, text otherwise.
type sniffer struct{}

func (sniffer) Sniff(head []byte, _ string) string {
	if bytes.HasPrefix(head, []byte("%PDF-")) {
		return "application/pdf"
	}
	if bytes.HasPrefix(head, []byte("\x00\x00\x00\x18ftyp")) {
		return "video/mp4"
	}
	return "text/plain; charset=utf-8"
}

type env struct {
	svc    *media.Service
	mem    *quotatest.MemLedger
	ledger *ledger
	store  *store
	blobs  storage.Blobs
	audit  *audittest.Memory
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{mem: quotatest.NewMemory(), blobs: storagetest.Memory(), audit: &audittest.Memory{}, now: t0}
	e.mem.Now = func() time.Time { return e.now }
	e.ledger = &ledger{Ledger: e.mem}
	e.store = &store{Store: mediatest.NewMemory()}
	e.svc = &media.Service{Store: e.store, Blobs: e.blobs, Ledger: e.ledger, Audit: e.audit,
		Sniffer: sniffer{}, MaxUploadBytes: 1 << 20, Now: func() time.Time { return e.now },
		ReservationTTL: time.Hour}
	return e
}

func (e *env) setLimit(t *testing.T, user, limit int64) {
	t.Helper()
	if err := e.mem.SetLimit(context.Background(), fmt.Sprint(user), quota.ResourceStorage, limit); err != nil {
		t.Fatal(err)
	}
}

func (e *env) usage(t *testing.T, user int64) quota.Usage {
	t.Helper()
	u, err := e.svc.Usage(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantUsage checks committed and reserved bytes.
func (e *env) wantUsage(t *testing.T, user, used, reserved int64) {
	t.Helper()
	if u := e.usage(t, user); u.Used != used || u.Reserved != reserved {
		t.Errorf("usage of %d = used %d reserved %d, want %d and %d", user, u.Used, u.Reserved, used, reserved)
	}
}

// objects lists every stored key.
func (e *env) objects(t *testing.T) []string {
	t.Helper()
	var keys []string
	for info, err := range e.blobs.(storage.Lister).List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// wantNothingStored checks that the user has no object, no item and no bytes.
func (e *env) wantNothingStored(t *testing.T, user int64) {
	t.Helper()
	if keys := e.objects(t); len(keys) != 0 {
		t.Errorf("objects left behind: %v", keys)
	}
	if p, err := e.svc.List(context.Background(), user, media.ListOptions{Page: 1, PerPage: 10}); err != nil || p.Total != 0 {
		t.Errorf("items left behind: %d, %v", p.Total, err)
	}
	e.wantUsage(t, user, 0, 0)
}

func upload(user int64, name string, body []byte) media.Upload {
	return media.Upload{Actor: media.Actor{UserID: user, Username: fmt.Sprint("user", user), IP: "203.0.113.9"},
		Filename: name, MediaType: media.TypeDocument, Body: bytes.NewReader(body), DeclaredSize: int64(len(body))}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// payload returns n deterministic bytes (text, so the fake sniffer says text/plain).
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i))%26
	}
	return b
}

func TestUploadStoresItem(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	body := append([]byte("%PDF-1.7\n"), payload(10_000, 1)...) // longer than the sniff head
	u := upload(alice, "Lecture Notes.pdf", body)
	u.MediaType, u.Author, u.Keywords = media.TypePDF, " Dr. Who ", []string{"Physics", " lecture", "physics"}
	res, err := e.svc.Upload(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	it := res.Item
	if res.Outcome != media.OutcomeCreated || it.ID == 0 || res.Message != "Media 'Lecture Notes' added." || len(res.Warnings) != 0 {
		t.Errorf("result = %+v", res)
	}
	if it.Title != "Lecture Notes" || it.Author != "Dr. Who" || it.Filename != "Lecture Notes.pdf" ||
		it.ContentType != "application/pdf" || it.Size != int64(len(body)) || it.ContentHash != sha(body) ||
		it.Status != media.StatusStored || fmt.Sprint(it.Keywords) != "[lecture physics]" || it.UserID != alice {
		t.Errorf("item = %+v", it)
	}
	if !regexp.MustCompile(`^7/2026/11/` + regexp.QuoteMeta(it.UUID) + `\.pdf$`).MatchString(it.BlobKey) {
		t.Errorf("blob key %q, uuid %q", it.BlobKey, it.UUID)
	}
	rc, info, err := e.blobs.Get(ctx, it.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, body) || info.ContentType != "application/pdf" {
		t.Errorf("stored %d bytes (%q), want the %d uploaded", len(got), info.ContentType, len(body))
	}
	e.wantUsage(t, alice, int64(len(body)), 0)
	evs := e.audit.Find(audit.MediaUploaded)
	if len(evs) != 1 || evs[0].TargetID != fmt.Sprint(it.ID) || evs[0].UserID != alice || evs[0].IP != "203.0.113.9" || !evs[0].Success {
		t.Errorf("audit = %+v", evs)
	}
	// Get returns the stored item.
	g, err := e.svc.Get(ctx, media.Actor{UserID: alice}, it.ID)
	if err != nil || g.ContentHash != it.ContentHash {
		t.Errorf("Get = %+v, %v", g, err)
	}
}

func TestUploadUnknownSize(t *testing.T) {
	e := newEnv(t)
	e.setLimit(t, alice, 50_000)
	var reserved int64
	e.ledger.ReserveFn = func(ctx context.Context, s string, r quota.Resource, n int64, ttl time.Duration) (quota.Reservation, error) {
		reserved = n
		return e.mem.Reserve(ctx, s, r, n, ttl)
	}
	body := payload(20_000, 2)
	u := upload(alice, "notes.txt", body)
	u.Body, u.DeclaredSize = io.MultiReader(bytes.NewReader(body[:5]), bytes.NewReader(body[5:])), -1
	res, err := e.svc.Upload(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if reserved != 50_000 {
		t.Errorf("reserved %d before reading, want the remaining 50000", reserved)
	}
	if res.Item.Size != 20_000 {
		t.Errorf("size = %d", res.Item.Size)
	}
	e.wantUsage(t, alice, 20_000, 0)

	// Without a quota, an unknown size reserves the upload cap.
	reserved = -1
	u = upload(bob, "b.txt", payload(10, 3))
	u.DeclaredSize = -1
	if _, err := e.svc.Upload(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if reserved != 1<<20 {
		t.Errorf("unlimited quota reserved %d, want MaxUploadBytes", reserved)
	}
}

func TestUploadZeroBytes(t *testing.T) {
	e := newEnv(t)
	for _, declared := range []int64{0, -1} {
		u := upload(alice, "empty.txt", nil)
		u.DeclaredSize = declared
		if _, err := e.svc.Upload(context.Background(), u); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("declared %d: err = %v, want ErrInvalid", declared, err)
		}
	}
	e.wantNothingStored(t, alice)
}

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless yields 'x' forever.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestUploadTooLarge(t *testing.T) {
	e := newEnv(t)
	e.svc.MaxUploadBytes = 64 << 10
	cr := &countingReader{r: endless{}}
	u := upload(alice, "big.txt", nil)
	u.Body, u.DeclaredSize = cr, -1
	_, err := e.svc.Upload(context.Background(), u)
	if !errors.Is(err, media.ErrTooLarge) || errors.Is(err, media.ErrQuotaExceeded) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if cr.n > e.svc.MaxUploadBytes+64<<10 {
		t.Errorf("read %d bytes of an endless body with a %d byte cap", cr.n, e.svc.MaxUploadBytes)
	}
	e.wantNothingStored(t, alice)
	if len(e.audit.Find(audit.QuotaExceeded)) != 0 {
		t.Error("an oversized upload was audited as quota_exceeded")
	}

	// A declared size far past the cap is refused before reading.
	u = upload(alice, "big.txt", nil)
	u.Body, u.DeclaredSize = iotestErrReader{t}, e.svc.MaxUploadBytes+media.DeclaredSlack+1
	if _, err := e.svc.Upload(context.Background(), u); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("declared past the cap: %v", err)
	}

	// Exactly the cap is fine.
	if _, err := e.svc.Upload(context.Background(), upload(alice, "cap.txt", payload(64<<10, 1))); err != nil {
		t.Errorf("upload of exactly MaxUploadBytes: %v", err)
	}
}

func TestUploadQuotaExceeded(t *testing.T) {
	e := newEnv(t)
	e.setLimit(t, alice, 1000)
	for _, declared := range []int64{-1, 1500, 100_000} {
		u := upload(alice, "big.txt", payload(1500, 1))
		u.DeclaredSize = declared
		if declared > 1000+media.DeclaredSlack {
			u.Body = iotestErrReader{t} // refused on the declared size alone
		}
		_, err := e.svc.Upload(context.Background(), u)
		if !errors.Is(err, media.ErrQuotaExceeded) || !errors.Is(err, quota.ErrExceeded) {
			t.Errorf("declared %d: err = %v, want ErrQuotaExceeded", declared, err)
		}
	}
	e.wantNothingStored(t, alice)
	evs := e.audit.Find(audit.QuotaExceeded)
	if len(evs) != 3 || evs[0].Success || evs[0].UserID != alice || evs[0].TargetID != "7" {
		t.Errorf("quota_exceeded events = %+v", evs)
	}
	// What fits still works, up to the byte.
	if _, err := e.svc.Upload(context.Background(), upload(alice, "fits.txt", payload(1000, 2))); err != nil {
		t.Fatalf("upload that fits exactly: %v", err)
	}
	e.wantUsage(t, alice, 1000, 0)

	// Full: refused before a byte is read.
	u := upload(alice, "more.txt", nil)
	u.Body, u.DeclaredSize = iotestErrReader{t}, -1
	if _, err := e.svc.Upload(context.Background(), u); !errors.Is(err, media.ErrQuotaExceeded) {
		t.Errorf("upload with a full quota: %v", err)
	}
	e.wantUsage(t, alice, 1000, 0)
}

// iotestErrReader fails the test when read.
type iotestErrReader struct{ t *testing.T }

func (r iotestErrReader) Read([]byte) (int, error) {
	r.t.Error("the body was read")
	return 0, io.EOF
}

// failingReader returns n bytes and then err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'z'
	}
	f.n -= k
	return k, nil
}

func TestUploadAbortedMidway(t *testing.T) {
	for _, n := range []int{0, 100, 10_000} { // before, inside and after the sniff head
		e := newEnv(t)
		e.setLimit(t, alice, 1<<20)
		u := upload(alice, "cut.txt", nil)
		u.Body, u.DeclaredSize = &failingReader{n: n, err: io.ErrUnexpectedEOF}, 50_000
		_, err := e.svc.Upload(context.Background(), u)
		if !errors.Is(err, media.ErrIncomplete) {
			t.Errorf("after %d bytes: err = %v, want ErrIncomplete", n, err)
		}
		e.wantNothingStored(t, alice)
	}
}

// TestUploadProcessCrash simulates a process that dies mid-upload: its reservation is never
// released, and no object or row exists. The sweeper brings usage back to exact.
func TestUploadProcessCrash(t *testing.T) {
	e := newEnv(t)
	e.setLimit(t, alice, 1<<20)
	if _, err := e.svc.Upload(context.Background(), upload(alice, "kept.txt", payload(300, 1))); err != nil {
		t.Fatal(err)
	}
	e.ledger.ReleaseFn = func(context.Context, quota.Reservation) error { return nil } // the process is gone
	u := upload(alice, "crash.txt", nil)
	u.Body, u.DeclaredSize = &failingReader{n: 5000, err: errors.New("connection reset")}, 40_000
	if _, err := e.svc.Upload(context.Background(), u); err == nil {
		t.Fatal("upload succeeded")
	}
	e.wantUsage(t, alice, 300, 40_000) // the dead process's reservation
	if keys := e.objects(t); len(keys) != 1 {
		t.Errorf("objects = %v, want only the first upload", keys)
	}
	if n, err := e.mem.Sweep(context.Background(), t0.Add(59*time.Minute)); err != nil || n != 0 {
		t.Errorf("Sweep before expiry = %d, %v", n, err)
	}
	if n, err := e.mem.Sweep(context.Background(), t0.Add(61*time.Minute)); err != nil || n != 1 {
		t.Errorf("Sweep after expiry = %d, %v", n, err)
	}
	e.wantUsage(t, alice, 300, 0)
	d, err := e.svc.Reconcile(context.Background(), alice, false)
	if err != nil || d.Delta != 0 || d.Orphans != 0 || d.Missing != 0 {
		t.Errorf("Reconcile after crash and sweep = %+v, %v", d, err)
	}
}

func TestUploadDuplicate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	body := payload(5000, 4)
	first, err := e.svc.Upload(ctx, upload(alice, "one.txt", body))
	if err != nil {
		t.Fatal(err)
	}
	u := upload(alice, "two.txt", body)
	u.Title = "Second title"
	res, err := e.svc.Upload(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != media.OutcomeDuplicate || res.Item.ID != first.Item.ID || res.Item.Title != "one" ||
		res.Message != "Media 'one' already exists. Overwrite not enabled." {
		t.Errorf("duplicate result = %+v (item %+v)", res, res.Item)
	}
	if keys := e.objects(t); len(keys) != 1 {
		t.Errorf("objects after a duplicate = %v", keys)
	}
	e.wantUsage(t, alice, 5000, 0)

	// Another user's identical content is theirs alone.
	other, err := e.svc.Upload(ctx, upload(bob, "one.txt", body))
	if err != nil || other.Outcome != media.OutcomeCreated || other.Item.ID == first.Item.ID {
		t.Errorf("Bob's upload of the same bytes = %+v, %v", other, err)
	}

	// Overwrite replaces the metadata, and takes the item out of the trash.
	if err := e.svc.Trash(ctx, media.Actor{UserID: alice}, first.Item.ID); err != nil {
		t.Fatal(err)
	}
	u = upload(alice, "renamed.txt", body)
	u.Title, u.Overwrite, u.Keywords = "Overwritten", true, []string{"new"}
	res, err = e.svc.Upload(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := e.svc.Get(ctx, media.Actor{UserID: alice}, first.Item.ID)
	if res.Outcome != media.OutcomeOverwritten || it.Title != "Overwritten" || it.Filename != "renamed.txt" ||
		it.Trashed || fmt.Sprint(it.Keywords) != "[new]" || !it.UpdatedAt.Equal(t0) {
		t.Errorf("after overwrite: result %+v, item %+v", res, it)
	}
	if keys := e.objects(t); len(keys) != 2 { // Alice's and Bob's
		t.Errorf("objects after overwrite = %v", keys)
	}
	e.wantUsage(t, alice, 5000, 0)
}

func TestUploadConcurrentDuplicates(t *testing.T) {
	e := newEnv(t)
	body := payload(3000, 5)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[media.Outcome]int{}
	)
	for range 8 {
		wg.Go(func() {
			res, err := e.svc.Upload(context.Background(), upload(alice, "same.txt", body))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("Upload: %v", err)
				return
			}
			outcomes[res.Outcome]++
		})
	}
	wg.Wait()
	if outcomes[media.OutcomeCreated] != 1 || outcomes[media.OutcomeDuplicate] != 7 {
		t.Errorf("outcomes = %v", outcomes)
	}
	if keys := e.objects(t); len(keys) != 1 {
		t.Errorf("objects = %v", keys)
	}
	e.wantUsage(t, alice, 3000, 0)
}

func TestUploadHostileFilenames(t *testing.T) {
	e := newEnv(t)
	keyRE := regexp.MustCompile(`^7/\d{4}/\d{2}/[0-9a-f-]{36}\.[a-z0-9]+$`)
	tests := []struct{ name, wantFile, wantExt string }{
		{"../../../etc/passwd", "passwd", ".bin"},
		{`..\..\boot.ini`, "boot.ini", ".bin"},
		{"/etc/shadow.txt", "shadow.txt", ".txt"},
		{"x.html", "x.html", ".bin"},
		{"x.SVG", "x.SVG", ".bin"},
		{"invoice\u202efdp.exe", "invoicefdp.exe", ".bin"},
		{"a\x00b.mp4", "ab.mp4", ".mp4"},
		{"..", "", ".bin"},
		{"", "", ".bin"},
		{strings.Repeat("n", 1000) + ".pdf", strings.Repeat("n", 251) + ".pdf", ".pdf"},
	}
	for i, tt := range tests {
		res, err := e.svc.Upload(context.Background(), upload(alice, tt.name, payload(10+i, byte(i))))
		if err != nil {
			t.Errorf("%q: %v", tt.name, err)
			continue
		}
		it := res.Item
		if it.Filename != tt.wantFile || !keyRE.MatchString(it.BlobKey) || !strings.HasSuffix(it.BlobKey, tt.wantExt) {
			t.Errorf("%q: filename %q, key %q; want %q and a %s key", tt.name, it.Filename, it.BlobKey, tt.wantFile, tt.wantExt)
		}
		if it.Title == "" || strings.ContainsAny(it.Title, "/\\\x00") {
			t.Errorf("%q: title %q", tt.name, it.Title)
		}
	}
}

func TestUploadValidation(t *testing.T) {
	e := newEnv(t)
	e.ledger.ReserveFn = func(context.Context, string, quota.Resource, int64, time.Duration) (quota.Reservation, error) {
		t.Error("Reserve called for an invalid upload")
		return quota.Reservation{}, errors.New("no")
	}
	for name, mut := range map[string]func(*media.Upload){
		"no media type":  func(u *media.Upload) { u.MediaType = "" },
		"bad media type": func(u *media.Upload) { u.MediaType = "image" },
		"long title":     func(u *media.Upload) { u.Title = strings.Repeat("t", media.MaxTitleLen+1) },
		"long author":    func(u *media.Upload) { u.Author = strings.Repeat("a", media.MaxAuthorLen+1) },
		"bad keyword":    func(u *media.Upload) { u.Keywords = []string{strings.Repeat("k", media.MaxKeywordLen+1)} },
		"no user":        func(u *media.Upload) { u.UserID = 0 },
		"no body":        func(u *media.Upload) { u.Body = nil },
	} {
		u := upload(alice, "x.txt", payload(10, 1))
		mut(&u)
		if _, err := e.svc.Upload(context.Background(), u); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestUploadBodyLongerThanDeclared(t *testing.T) {
	e := newEnv(t)
	u := upload(alice, "x.txt", payload(500, 1))
	u.DeclaredSize = 100
	if _, err := e.svc.Upload(context.Background(), u); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	e.wantNothingStored(t, alice)
}

func TestUploadTypeWarning(t *testing.T) {
	e := newEnv(t)
	u := upload(alice, "x.pdf", payload(100, 1))
	u.MediaType = media.TypePDF
	res, err := e.svc.Upload(context.Background(), u)
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "text/plain") {
		t.Errorf("result = %+v, %v; want a warning", res, err)
	}
}

func TestUploadBackendFailuresLeaveNothing(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		e := newEnv(t)
		e.store.CreateFn = func(context.Context, *media.Item) error { return errors.New("database down") }
		if _, err := e.svc.Upload(context.Background(), upload(alice, "x.txt", payload(100, 1))); err == nil {
			t.Fatal("upload succeeded")
		}
		e.wantNothingStored(t, alice)
	})
	t.Run("commit", func(t *testing.T) {
		e := newEnv(t)
		e.ledger.CommitFn = func(context.Context, quota.Reservation, int64) error { return errors.New("ledger down") }
		if _, err := e.svc.Upload(context.Background(), upload(alice, "x.txt", payload(100, 1))); err == nil {
			t.Fatal("upload succeeded")
		}
		e.wantNothingStored(t, alice)
	})
	t.Run("reserve", func(t *testing.T) {
		e := newEnv(t)
		e.ledger.ReserveFn = func(context.Context, string, quota.Resource, int64, time.Duration) (quota.Reservation, error) {
			return quota.Reservation{}, errors.New("ledger down")
		}
		u := upload(alice, "x.txt", nil)
		u.Body = iotestErrReader{t}
		if _, err := e.svc.Upload(context.Background(), u); err == nil || errors.Is(err, media.ErrQuotaExceeded) {
			t.Fatalf("err = %v, want a backend error", err)
		}
		e.wantNothingStored(t, alice)
	})
}

// TestUploadReservationExpired: an upload that outlives its reservation is still charged.
func TestUploadReservationExpired(t *testing.T) {
	e := newEnv(t)
	e.setLimit(t, alice, 1<<20)
	body := payload(2000, 1)
	u := upload(alice, "slow.txt", body)
	u.Body = io.MultiReader(bytes.NewReader(body), sweepAtEOF{e})
	if _, err := e.svc.Upload(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(t, alice, 2000, 0)
}

// sweepAtEOF sweeps the ledger two hours later when read, then reports EOF.
type sweepAtEOF struct{ e *env }

func (s sweepAtEOF) Read([]byte) (int, error) {
	_, _ = s.e.mem.Sweep(context.Background(), t0.Add(2*time.Hour))
	return 0, io.EOF
}

func TestTrashAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	me := media.Actor{UserID: alice}
	var ids []int64
	for i := range 3 {
		res, err := e.svc.Upload(ctx, upload(alice, fmt.Sprintf("f%d.txt", i), payload(1000*(i+1), byte(i))))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Item.ID)
	}
	e.wantUsage(t, alice, 6000, 0)

	for range 2 { // idempotent
		if err := e.svc.Trash(ctx, me, ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	e.wantUsage(t, alice, 6000, 0) // trash still counts
	p, _ := e.svc.List(ctx, alice, media.ListOptions{Page: 1, PerPage: 10})
	tr, _ := e.svc.ListTrash(ctx, alice, media.ListOptions{Page: 1, PerPage: 10})
	if p.Total != 2 || tr.Total != 1 || tr.Items[0].ID != ids[0] {
		t.Errorf("list %d, trash %d", p.Total, tr.Total)
	}
	if err := e.svc.Restore(ctx, me, ids[0]); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.List(ctx, alice, media.ListOptions{Page: 1, PerPage: 10}); p.Total != 3 {
		t.Errorf("after restore: %d items", p.Total)
	}

	if err := e.svc.DeletePermanent(ctx, me, ids[1]); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(t, alice, 4000, 0)
	if _, err := e.svc.Get(ctx, me, ids[1]); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Get after permanent delete: %v", err)
	}
	if err := e.svc.DeletePermanent(ctx, me, ids[1]); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("second permanent delete: %v", err)
	}
	if len(e.objects(t)) != 2 {
		t.Errorf("objects = %v", e.objects(t))
	}

	for _, id := range []int64{ids[0], ids[2]} {
		if err := e.svc.Trash(ctx, me, id); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.svc.EmptyTrash(ctx, me)
	if err != nil || n != 2 {
		t.Errorf("EmptyTrash = %d, %v", n, err)
	}
	e.wantNothingStored(t, alice)
	dels := e.audit.Find(audit.MediaDeleted)
	if len(dels) != 7 { // 2 trash (one a repeat) + 1 permanent + 2 trash + 2 emptied
		t.Errorf("media_deleted events: %d, want 7", len(dels))
	}
	if n, err := e.svc.EmptyTrash(ctx, me); err != nil || n != 0 {
		t.Errorf("EmptyTrash on an empty trash = %d, %v", n, err)
	}
}

func TestCrossUserAccess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Upload(ctx, upload(alice, "private.txt", payload(100, 1)))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Item.ID
	mallory := media.Actor{UserID: bob}
	admin := media.Actor{UserID: 99, ReadAny: true}

	if _, err := e.svc.Get(ctx, mallory, id); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if _, _, _, err := e.svc.Open(ctx, mallory, id); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Open: %v", err)
	}
	for name, fn := range map[string]func(media.Actor) error{
		"Trash":           func(a media.Actor) error { return e.svc.Trash(ctx, a, id) },
		"Restore":         func(a media.Actor) error { return e.svc.Restore(ctx, a, id) },
		"DeletePermanent": func(a media.Actor) error { return e.svc.DeletePermanent(ctx, a, id) },
	} {
		for _, a := range []media.Actor{mallory, admin} { // admins read, never change
			if err := fn(a); !errors.Is(err, media.ErrNotFound) {
				t.Errorf("%s by %d: %v, want ErrNotFound", name, a.UserID, err)
			}
		}
	}
	if n, err := e.svc.EmptyTrash(ctx, mallory); err != nil || n != 0 {
		t.Errorf("EmptyTrash(bob) = %d, %v", n, err)
	}
	if p, err := e.svc.List(ctx, bob, media.ListOptions{Page: 1, PerPage: 10}); err != nil || p.Total != 0 {
		t.Errorf("List(bob) = %d, %v", p.Total, err)
	}
	it, err := e.svc.Get(ctx, media.Actor{UserID: alice}, id)
	if err != nil || it.Trashed {
		t.Errorf("Alice's item after the attempts: %+v, %v", it, err)
	}
	e.wantUsage(t, alice, 100, 0)

	// Admins may read.
	if it, err := e.svc.Get(ctx, admin, id); err != nil || it.UserID != alice {
		t.Errorf("admin Get = %+v, %v", it, err)
	}
	_, rc, _, err := e.svc.Open(ctx, admin, id)
	if err != nil {
		t.Fatalf("admin Open: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, payload(100, 1)) {
		t.Error("admin Open read other bytes")
	}
}

func TestOpenMissingFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Upload(ctx, upload(alice, "x.txt", payload(100, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Delete(ctx, res.Item.BlobKey); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.svc.Open(ctx, media.Actor{UserID: alice}, res.Item.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Open with the file gone: %v", err)
	}
}

func TestReconcile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, err := e.svc.Upload(ctx, upload(alice, "a.txt", payload(1000, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.Upload(ctx, upload(alice, "b.txt", payload(2000, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Upload(ctx, upload(bob, "c.txt", payload(4000, 3))); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Trash(ctx, media.Actor{UserID: alice}, b.Item.ID); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Reconcile(ctx, alice, false)
	if err != nil || d.Delta != 0 || d.Actual != 3000 || d.Recorded != 3000 || d.Items != 2 || !d.Listed || d.Orphans != 0 || d.Missing != 0 {
		t.Errorf("consistent Reconcile = %+v, %v", d, err)
	}

	// Drift: a lost ledger update, an orphan object (crash between Put and the row), and a
	// missing object.
	if err := e.mem.Add(ctx, "7", quota.ResourceStorage, 500); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blobs.Put(ctx, "7/2026/11/orphan.bin", strings.NewReader("12345"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Delete(ctx, a.Item.BlobKey); err != nil {
		t.Fatal(err)
	}
	d, err = e.svc.Reconcile(ctx, alice, false)
	if err != nil || d.Delta != -500 || d.Recorded != 3500 || d.Orphans != 1 || d.OrphanBytes != 5 || d.Missing != 1 || d.Fixed {
		t.Errorf("drift = %+v, %v", d, err)
	}
	e.wantUsage(t, alice, 3500, 0) // not fixed yet
	d, err = e.svc.Reconcile(ctx, alice, true)
	if err != nil || !d.Fixed || d.Delta != -500 {
		t.Errorf("fix = %+v, %v", d, err)
	}
	e.wantUsage(t, alice, 3000, 0)
	if d, _ := e.svc.Reconcile(ctx, alice, true); d.Delta != 0 || d.Fixed {
		t.Errorf("after fix = %+v", d)
	}
	e.wantUsage(t, bob, 4000, 0) // untouched
	if _, err := e.svc.Reconcile(ctx, 0, false); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("Reconcile(0) = %v", err)
	}
}

func TestListValidation(t *testing.T) {
	e := newEnv(t)
	for _, o := range []media.ListOptions{{Page: 0, PerPage: 10}, {Page: 1, PerPage: 101}} {
		if _, err := e.svc.List(context.Background(), alice, o); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("List(%+v) = %v", o, err)
		}
		if _, err := e.svc.ListTrash(context.Background(), alice, o); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("ListTrash(%+v) = %v", o, err)
		}
	}
}
