package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/mimesniff"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// mediaServer is a test server with a media service over memory stores.
type mediaServer struct {
	*testServer
	Media  *media.Service
	Items  *mediatest.Memory
	Blobs  storage.Blobs
	Ledger *quotatest.MemLedger
}

// seekableBlobs serves Get as an io.ReadSeeker, as a file-backed store does.
type seekableBlobs struct{ storage.Blobs }

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

func (b seekableBlobs) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	rc, info, err := b.Blobs.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	return readSeekNopCloser{bytes.NewReader(data)}, info, err
}

const testMaxUpload = 256 << 10

// newMediaServer builds a test server whose Options.Media stores in memory, with a 256 KiB
// upload cap and unlimited quotas; seekable makes the blob store hand out seekable files.
func newMediaServer(t *testing.T, seekable bool) *mediaServer {
	t.Helper()
	ms := &mediaServer{Items: mediatest.NewMemory(), Blobs: storagetest.Memory(), Ledger: quotatest.NewMemory()}
	if seekable {
		ms.Blobs = seekableBlobs{ms.Blobs}
	}
	ms.Media = &media.Service{Store: ms.Items, Blobs: ms.Blobs, Ledger: ms.Ledger, Sniffer: mimesniff.New(),
		MaxUploadBytes: testMaxUpload}
	ms.testServer = newTestServer(t, withHTTP(func(o *Options) { o.Media = ms.Media }))
	ms.Media.Audit, ms.Media.Now, ms.Ledger.Now = ms.Audit, ms.Clock.Now, ms.Clock.Now
	return ms
}

// formPart is one multipart form part; a part with a filename (or file set) is a file.
type formPart struct {
	name, filename, content string
	file                    bool
}

func formField(name, value string) formPart { return formPart{name: name, content: value} }

func formFile(name, filename, content string) formPart {
	return formPart{name: name, filename: filename, content: content, file: true}
}

// form encodes parts as multipart/form-data.
func multipartForm(t *testing.T, parts ...formPart) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p.content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

// add posts a form to /media/add as kind.
func (ms *mediaServer) add(t *testing.T, kind string, parts ...formPart) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := multipartForm(t, parts...)
	return ms.call(t, kind, http.MethodPost, "/api/v1/media/add", body, map[string]string{"Content-Type": ct})
}

// send sends body (any reader: its length is unknown unless size ≥ 0) as kind.
func (ms *mediaServer) send(t *testing.T, kind, method, path string, body io.Reader, size int64, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.ContentLength = size
	if size < 0 {
		req.TransferEncoding = []string{"chunked"}
	}
	for k, v := range ms.credential(kind) {
		req.Header.Set(k, v)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	serveChecked(t, ms.Server, rec, req)
	return rec
}

// addResponse is the body of /media/add.
type addResponse struct {
	Results []struct {
		Status    string         `json:"status"`
		InputRef  string         `json:"input_ref"`
		MediaType string         `json:"media_type"`
		DBID      *int64         `json:"db_id"`
		MediaID   *int64         `json:"media_id"`
		DBMessage *string        `json:"db_message"`
		MediaUUID *string        `json:"media_uuid"`
		Error     *string        `json:"error"`
		ErrorCode string         `json:"error_code"`
		Warnings  []string       `json:"warnings"`
		Metadata  map[string]any `json:"metadata"`
	} `json:"results"`
	ProcessedCount int      `json:"processed_count"`
	ErrorsCount    int      `json:"errors_count"`
	Errors         []string `json:"errors"`
}

func decodeAdd(t *testing.T, rec *httptest.ResponseRecorder) addResponse {
	t.Helper()
	var r addResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("decode: %v\n%s", err, rec.Body)
	}
	return r
}

// upload stores one file as kind and returns its id.
func (ms *mediaServer) upload(t *testing.T, kind, filename, content string) int64 {
	t.Helper()
	rec := ms.add(t, kind, formField("media_type", "document"), formFile("files", filename, content))
	if rec.Code != http.StatusOK {
		t.Fatalf("upload %s as %s = %d\n%s", filename, kind, rec.Code, rec.Body)
	}
	return *decodeAdd(t, rec).Results[0].DBID
}

// usage is the ledger's storage usage of kind's user.
func (ms *mediaServer) usage(t *testing.T, kind string) quota.Usage {
	t.Helper()
	uid, _ := strconv.ParseInt(ms.id(kind), 10, 64)
	u, err := ms.Media.Usage(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantEmpty checks that kind has no items, no objects and no bytes used or reserved.
func (ms *mediaServer) wantEmpty(t *testing.T, kind string) {
	t.Helper()
	uid, _ := strconv.ParseInt(ms.id(kind), 10, 64)
	sizes, err := ms.Items.Sizes(context.Background(), uid)
	if err != nil || len(sizes) != 0 {
		t.Errorf("items of %s: %v, %v", kind, sizes, err)
	}
	blobs := ms.Blobs
	if u, ok := blobs.(interface{ Unwrap() storage.Blobs }); ok {
		blobs = u.Unwrap()
	}
	for info, err := range blobs.(storage.Lister).List(context.Background(), ms.id(kind)+"/") {
		t.Errorf("object left behind: %q (%v)", info.Key, err)
	}
	if u := ms.usage(t, kind); u.Used != 0 || u.Reserved != 0 {
		t.Errorf("usage of %s = %+v, want nothing used or reserved", kind, u)
	}
}

// Unwrap gives tests the underlying store.
func (b seekableBlobs) Unwrap() storage.Blobs { return b.Blobs }

const pdfBytes = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

func TestMediaAddAndRead(t *testing.T) {
	for _, seekable := range []bool{true, false} {
		t.Run(fmt.Sprintf("seekable=%v", seekable), func(t *testing.T) {
			ms := newMediaServer(t, seekable)
			rec := ms.add(t, callerUser,
				formField("media_type", "pdf"), formField("title", "Lecture 1"), formField("author", "Ann"),
				formField("keywords", "Physics, lecture"), formField("perform_analysis", "true"), formField("chunk_size", "500"),
				formFile("files", "lecture.pdf", pdfBytes))
			if rec.Code != http.StatusOK {
				t.Fatalf("add = %d\n%s", rec.Code, rec.Body)
			}
			res := decodeAdd(t, rec)
			r0 := res.Results[0]
			if len(res.Results) != 1 || r0.Status != "Success" || r0.DBID == nil || r0.MediaID == nil || *r0.DBID != *r0.MediaID ||
				res.ProcessedCount != 1 || res.ErrorsCount != 0 || res.Errors == nil || len(res.Errors) != 0 ||
				r0.InputRef != "lecture.pdf" || r0.MediaType != "pdf" || r0.MediaUUID == nil || r0.DBMessage == nil {
				t.Fatalf("result = %s", rec.Body)
			}
			if len(r0.Warnings) != 1 || r0.Warnings[0] != "Not applied by this server: perform_analysis" {
				t.Errorf("warnings = %q", r0.Warnings)
			}
			id := *r0.DBID
			if evs := ms.Audit.Find(audit.MediaUploaded); len(evs) != 1 || evs[0].TargetID != strconv.FormatInt(id, 10) ||
				evs[0].UserID != ms.Accounts[callerUser].User.ID || evs[0].IP == "" {
				t.Errorf("media_uploaded events = %+v", evs)
			}
			if u := ms.usage(t, callerUser); u.Used != int64(len(pdfBytes)) || u.Reserved != 0 {
				t.Errorf("usage = %+v", u)
			}

			// The list, in tldw's shape.
			rec = ms.call(t, callerUser, http.MethodGet, "/api/v1/media", "", nil)
			var list struct {
				Items []struct {
					ID    int64   `json:"id"`
					Title string  `json:"title"`
					URL   *string `json:"url"`
					Type  string  `json:"type"`
				} `json:"items"`
				Pagination mediaPagination `json:"pagination"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("list = %d %v\n%s", rec.Code, err, rec.Body)
			}
			if len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].Title != "Lecture 1" || list.Items[0].Type != "pdf" ||
				list.Pagination != (mediaPagination{Page: 1, ResultsPerPage: 10, TotalPages: 1, TotalItems: 1}) {
				t.Errorf("list = %s", rec.Body)
			}
			etag := rec.Header().Get("ETag")
			if rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/media/", "", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || etag == "" {
				t.Errorf("list with If-None-Match %q = %d", etag, rec.Code)
			}

			// The item: no storage key anywhere.
			it, _ := ms.Items.ByIDAny(context.Background(), id)
			rec = ms.call(t, callerUser, http.MethodGet, fmt.Sprintf("/api/v1/media/%d", id), "", nil)
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK || got["media_id"] != float64(id) || got["content_type"] != "application/pdf" ||
				got["content_hash"] != it.ContentHash || fmt.Sprint(got["keywords"]) != "[lecture physics]" ||
				got["has_original_file"] != true || got["status"] != "stored" {
				t.Errorf("item = %d %s", rec.Code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), it.BlobKey) || strings.Contains(rec.Body.String(), it.UUID+".pdf") {
				t.Errorf("the item leaks its storage key %q:\n%s", it.BlobKey, rec.Body)
			}

			// The file.
			path := fmt.Sprintf("/api/v1/media/%d/file", id)
			rec = ms.call(t, callerUser, http.MethodGet, path, "", nil)
			h := rec.Header()
			if rec.Code != http.StatusOK || rec.Body.String() != pdfBytes || h.Get("Content-Type") != "application/pdf" ||
				h.Get("ETag") != `"`+it.ContentHash+`"` || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") ||
				h.Get("Content-Disposition") != `attachment; filename="lecture.pdf"; filename*=UTF-8''lecture.pdf` {
				t.Errorf("file = %d %v", rec.Code, h)
			}
			if rec := ms.call(t, callerUser, http.MethodGet, path, "", map[string]string{"If-None-Match": h.Get("ETag")}); rec.Code != http.StatusNotModified {
				t.Errorf("file with If-None-Match = %d", rec.Code)
			}
			rec = ms.call(t, callerUser, http.MethodGet, path, "", map[string]string{"Range": "bytes=0-3"})
			if seekable && (rec.Code != http.StatusPartialContent || rec.Body.String() != "%PDF") {
				t.Errorf("range on a seekable file = %d %q", rec.Code, rec.Body)
			}
			if !seekable && (rec.Code != http.StatusOK || rec.Body.String() != pdfBytes || rec.Header().Get("Accept-Ranges") != "none") {
				t.Errorf("range on a stream = %d, %d bytes, Accept-Ranges %q", rec.Code, rec.Body.Len(), rec.Header().Get("Accept-Ranges"))
			}
		})
	}
}

func TestMediaAddDedupeAndDuplicates(t *testing.T) {
	ms := newMediaServer(t, false)
	// file and files carrying the same bytes: one item, one result.
	rec := ms.add(t, callerUser, formField("media_type", "document"),
		formFile("files", "a.txt", "same bytes"), formFile("file", "a.txt", "same bytes"), formFile("files", "b.txt", "other bytes"))
	res := decodeAdd(t, rec)
	if rec.Code != http.StatusOK || len(res.Results) != 2 || res.ProcessedCount != 2 {
		t.Fatalf("add = %d\n%s", rec.Code, rec.Body)
	}
	first := *res.Results[0].DBID
	// Again in a later request: the existing item, with tldw's message.
	rec = ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "again.txt", "same bytes"))
	res = decodeAdd(t, rec)
	if rec.Code != http.StatusOK || *res.Results[0].DBID != first ||
		!strings.Contains(*res.Results[0].DBMessage, "already exists. Overwrite not enabled.") {
		t.Errorf("duplicate = %d\n%s", rec.Code, rec.Body)
	}
	// With overwrite_existing the metadata changes.
	rec = ms.add(t, callerUser, formField("media_type", "document"), formField("overwrite_existing", "true"),
		formField("title", "New title"), formFile("files", "again.txt", "same bytes"))
	if rec.Code != http.StatusOK {
		t.Fatalf("overwrite = %d\n%s", rec.Code, rec.Body)
	}
	it, _ := ms.Items.ByIDAny(context.Background(), first)
	if it.Title != "New title" {
		t.Errorf("title after overwrite = %q", it.Title)
	}
	if u := ms.usage(t, callerUser); u.Used != int64(len("same bytes")+len("other bytes")) {
		t.Errorf("usage = %+v", u)
	}
}

func TestMediaAddStatuses(t *testing.T) {
	ms := newMediaServer(t, false)
	tests := []struct {
		name     string
		parts    []formPart
		want     int
		wantCode string
	}{
		{"one good, one empty", []formPart{formField("media_type", "document"), formFile("files", "ok.txt", "fine"), formFile("files", "empty.txt", "")},
			http.StatusMultiStatus, ""},
		{"urls are not supported yet", []formPart{formField("media_type", "video"), formField("urls", "https://example.com/v.mp4")},
			http.StatusMultiStatus, ""},
		{"nothing", []formPart{formField("media_type", "document")}, http.StatusBadRequest, "no_valid_input"},
		{"empty file input only", []formPart{formField("media_type", "document"), formFile("files", "", "")}, http.StatusBadRequest, "no_valid_input"},
		{"no media_type", []formPart{formFile("files", "x.txt", "x")}, http.StatusUnprocessableEntity, "validation_error"},
		{"media_type after the file", []formPart{formFile("files", "x.txt", "x"), formField("media_type", "document")},
			http.StatusOK, ""},
		{"bad media_type", []formPart{formField("media_type", "image"), formFile("files", "x.txt", "x")}, http.StatusUnprocessableEntity, "validation_error"},
		{"bad overwrite_existing", []formPart{formField("overwrite_existing", "maybe"), formField("media_type", "document"), formFile("files", "x.txt", "x")},
			http.StatusUnprocessableEntity, "validation_error"},
		{"overlong field", []formPart{formField("title", strings.Repeat("t", mediaMaxFieldBytes+1)), formField("media_type", "document")},
			http.StatusRequestEntityTooLarge, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ms.add(t, callerModerator, tt.parts...)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d\n%s", rec.Code, tt.want, rec.Body)
			}
			if tt.wantCode != "" && decodeJSON(t, rec)["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s\n%s", decodeJSON(t, rec)["code"], tt.wantCode, rec.Body)
			}
			if tt.want == http.StatusMultiStatus {
				res := decodeAdd(t, rec)
				if res.ErrorsCount != 1 || len(res.Errors) != 1 || res.ErrorsCount+res.ProcessedCount != len(res.Results) {
					t.Errorf("207 body:\n%s", rec.Body)
				}
			}
		})
	}
	ms.wantEmptyExcept(t, callerModerator, 2) // "ok.txt" and "x.txt" (media_type after the file)

	rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/add", `{"media_type":"video"}`, nil)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body = %d, want 415", rec.Code)
	}
	var parts []formPart
	parts = append(parts, formField("media_type", "document"))
	for i := range mediaMaxParts + 1 {
		parts = append(parts, formField(fmt.Sprintf("x%d", i), "1"))
	}
	if rec := ms.add(t, callerUser, parts...); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d parts = %d, want 413", len(parts), rec.Code)
	}
}

// wantEmptyExcept checks that kind has exactly n items.
func (ms *mediaServer) wantEmptyExcept(t *testing.T, kind string, n int) {
	t.Helper()
	uid, _ := strconv.ParseInt(ms.id(kind), 10, 64)
	if sizes, _ := ms.Items.Sizes(context.Background(), uid); len(sizes) != n {
		t.Errorf("%s has %d items, want %d", kind, len(sizes), n)
	}
}

// failReader fails the test if read.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the body was read")
	return 0, io.EOF
}

func TestMediaAddLimits(t *testing.T) {
	big := strings.Repeat("x", testMaxUpload+1)
	t.Run("Content-Length over the cap: 413 before reading", func(t *testing.T) {
		ms := newMediaServer(t, false)
		_, ct := multipartForm(t, formField("media_type", "document"))
		rec := ms.send(t, callerUser, http.MethodPost, "/api/v1/media/add", failReader{t}, testMaxUpload+mediaMaxFieldsBytes+1,
			map[string]string{"Content-Type": ct})
		if rec.Code != http.StatusRequestEntityTooLarge || decodeJSON(t, rec)["code"] != "payload_too_large" {
			t.Errorf("= %d\n%s", rec.Code, rec.Body)
		}
	})
	t.Run("chunked file over the cap", func(t *testing.T) {
		ms := newMediaServer(t, false)
		body, ct := multipartForm(t, formField("media_type", "document"), formFile("files", "big.txt", big))
		rec := ms.send(t, callerUser, http.MethodPost, "/api/v1/media/add", io.MultiReader(strings.NewReader(body)), -1,
			map[string]string{"Content-Type": ct})
		if rec.Code != http.StatusRequestEntityTooLarge || decodeJSON(t, rec)["code"] != "payload_too_large" {
			t.Errorf("= %d\n%s", rec.Code, rec.Body)
		}
		ms.wantEmpty(t, callerUser)
	})
	t.Run("exactly the cap", func(t *testing.T) {
		ms := newMediaServer(t, false)
		rec := ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "cap.txt", big[1:]))
		if rec.Code != http.StatusOK {
			t.Errorf("= %d\n%s", rec.Code, rec.Body)
		}
	})
	t.Run("quota exceeded", func(t *testing.T) {
		ms := newMediaServer(t, false)
		uid := ms.Accounts[callerUser].User.ID
		if err := ms.Media.SetLimit(context.Background(), uid, 1000); err != nil {
			t.Fatal(err)
		}
		for _, size := range []int64{-1, 0} { // chunked, and with Content-Length
			body, ct := multipartForm(t, formField("media_type", "document"), formFile("files", "q.txt", strings.Repeat("q", 1500)))
			if size == 0 {
				size = int64(len(body))
			}
			rec := ms.send(t, callerUser, http.MethodPost, "/api/v1/media/add", io.MultiReader(strings.NewReader(body)), size,
				map[string]string{"Content-Type": ct})
			if rec.Code != http.StatusRequestEntityTooLarge || decodeJSON(t, rec)["code"] != "storage_quota_exceeded" {
				t.Errorf("size %d: %d\n%s", size, rec.Code, rec.Body)
			}
		}
		// A Content-Length far past the quota is refused before the file is read.
		body, ct := multipartForm(t, formField("media_type", "document"), formFile("files", "huge.txt", strings.Repeat("h", 200<<10)))
		cr := &countReader{r: strings.NewReader(body)}
		rec := ms.send(t, callerUser, http.MethodPost, "/api/v1/media/add", cr, int64(len(body)), map[string]string{"Content-Type": ct})
		if rec.Code != http.StatusRequestEntityTooLarge || decodeJSON(t, rec)["code"] != "storage_quota_exceeded" || cr.n > 64<<10 {
			t.Errorf("declared past the quota: %d after reading %d bytes\n%s", rec.Code, cr.n, rec.Body)
		}
		ms.wantEmpty(t, callerUser)
		if evs := ms.Audit.Find(audit.QuotaExceeded); len(evs) != 3 || evs[0].UserID != uid || evs[0].Success {
			t.Errorf("quota_exceeded events = %+v", evs)
		}
		// A first file that fits is kept; the one that does not ends the request with 207.
		rec = ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "a.txt", strings.Repeat("a", 600)),
			formFile("files", "b.txt", strings.Repeat("b", 600)))
		res := decodeAdd(t, rec)
		if rec.Code != http.StatusMultiStatus || res.ProcessedCount != 1 || res.ErrorsCount != 1 ||
			res.Results[1].ErrorCode != "storage_quota_exceeded" || res.Results[1].InputRef != "b.txt" {
			t.Errorf("partial = %d\n%s", rec.Code, rec.Body)
		}
		if u := ms.usage(t, callerUser); u.Used != 600 || u.Reserved != 0 {
			t.Errorf("usage = %+v", u)
		}
	})
	t.Run("truncated multipart", func(t *testing.T) {
		ms := newMediaServer(t, false)
		body, ct := multipartForm(t, formField("media_type", "document"), formFile("files", "cut.txt", strings.Repeat("c", 20000)))
		cut := body[:len(body)/2]
		for _, size := range []int64{int64(len(cut)), -1} {
			rec := ms.send(t, callerUser, http.MethodPost, "/api/v1/media/add", io.MultiReader(strings.NewReader(cut)), size,
				map[string]string{"Content-Type": ct})
			if rec.Code != http.StatusBadRequest {
				t.Errorf("size %d: %d\n%s", size, rec.Code, rec.Body)
			}
		}
		ms.wantEmpty(t, callerUser)
	})
	t.Run("zero-byte file", func(t *testing.T) {
		ms := newMediaServer(t, false)
		rec := ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "zero.txt", ""))
		res := decodeAdd(t, rec)
		if rec.Code != http.StatusMultiStatus || res.ErrorsCount != 1 || !strings.Contains(*res.Results[0].Error, "empty") {
			t.Errorf("= %d\n%s", rec.Code, rec.Body)
		}
		ms.wantEmpty(t, callerUser)
	})
}

func TestMediaHostileFilenames(t *testing.T) {
	ms := newMediaServer(t, true)
	tests := []struct {
		filename, content, wantName, wantType, wantDisposition string
	}{
		{"../../etc/passwd", "root:x:0:0", "passwd", "text/plain; charset=utf-8", `attachment; filename="passwd"; filename*=UTF-8''passwd`},
		{`..\..\evil.txt`, "evil", "evil.txt", "text/plain; charset=utf-8", `attachment; filename="evil.txt"; filename*=UTF-8''evil.txt`},
		{"page.html", "<!DOCTYPE html><html><script>alert(1)</script></html>", "page.html", "application/octet-stream",
			`attachment; filename="page.html"; filename*=UTF-8''page.html`},
		{"pic.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "pic.svg", "application/octet-stream",
			`attachment; filename="pic.svg"; filename*=UTF-8''pic.svg`},
		{"résumé \"final\".txt", "cv", "résumé final.txt", "text/plain; charset=utf-8",
			`attachment; filename="r_sum_ final.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.txt`},
		{"inv\u202eoice.txt", "x", "invoice.txt", "text/plain; charset=utf-8", `attachment; filename="invoice.txt"; filename*=UTF-8''invoice.txt`},
	}
	for _, tt := range tests {
		id := ms.upload(t, callerUser, tt.filename, tt.content)
		it, _ := ms.Items.ByIDAny(context.Background(), id)
		if it.Filename != tt.wantName || strings.Contains(it.BlobKey, "..") || !strings.HasPrefix(it.BlobKey, ms.id(callerUser)+"/") {
			t.Errorf("%q: stored name %q, key %q", tt.filename, it.Filename, it.BlobKey)
		}
		rec := ms.call(t, callerUser, http.MethodGet, fmt.Sprintf("/api/v1/media/%d/file", id), "", nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tt.wantType ||
			rec.Header().Get("Content-Disposition") != tt.wantDisposition || rec.Body.String() != tt.content {
			t.Errorf("%q: download %d, type %q, disposition %q", tt.filename, rec.Code, rec.Header().Get("Content-Type"),
				rec.Header().Get("Content-Disposition"))
		}
	}
}

// TestMediaCrossUser: another user's item is 404 on every item route, never 403; admins
// read any item but change only their own; lists and trash never show others' items.
func TestMediaCrossUser(t *testing.T) {
	ms := newMediaServer(t, false)
	id := ms.upload(t, callerUser, "private.txt", "alice's secret")
	if rec := ms.call(t, callerUser, http.MethodDelete, fmt.Sprintf("/api/v1/media/%d", id), "", nil); rec.Code != http.StatusNoContent {
		t.Fatalf("trash own = %d", rec.Code)
	}
	item := fmt.Sprintf("/api/v1/media/%d", id)
	for _, kind := range []string{callerModerator, callerService, callerAdmin} {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, item}, {http.MethodGet, item + "/file"}, {http.MethodDelete, item},
			{http.MethodPost, item + "/restore"}, {http.MethodDelete, item + "/permanent"},
			{http.MethodGet, "/api/v1/media/99999"}, {http.MethodGet, "/api/v1/media/99999999999999999999"},
		} {
			want := http.StatusNotFound
			if kind == callerAdmin && c.method == http.MethodGet && !strings.Contains(c.path, "9999") {
				want = http.StatusOK
			}
			rec := ms.call(t, kind, c.method, c.path, "", nil)
			if rec.Code != want {
				t.Errorf("%s %s as %s = %d, want %d\n%s", c.method, c.path, kind, rec.Code, want, rec.Body)
			}
			if want == http.StatusNotFound && strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("%s %s as %s leaked content", c.method, c.path, kind)
			}
		}
		for _, path := range []string{"/api/v1/media", "/api/v1/media/trash"} {
			rec := ms.call(t, kind, http.MethodGet, path, "", nil)
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "private") {
				t.Errorf("GET %s as %s = %d\n%s", path, kind, rec.Code, rec.Body)
			}
		}
		if rec := ms.call(t, kind, http.MethodPost, "/api/v1/media/trash/empty", "", nil); rec.Code != http.StatusOK ||
			decodeJSON(t, rec)["deleted_count"] != float64(0) {
			t.Errorf("empty trash as %s = %d\n%s", kind, rec.Code, rec.Body)
		}
	}
	// Alice's item is still there, still trashed, with its bytes.
	it, err := ms.Items.ByIDAny(context.Background(), id)
	if err != nil || !it.Trashed {
		t.Errorf("Alice's item: %+v, %v", it, err)
	}
	if rec := ms.call(t, callerAdmin, http.MethodGet, item+"/file", "", nil); rec.Body.String() != "alice's secret" {
		t.Errorf("admin download = %q", rec.Body)
	}
}

func TestMediaTrashLifecycle(t *testing.T) {
	ms := newMediaServer(t, false)
	a := ms.upload(t, callerUser, "a.txt", "aaaa")
	b := ms.upload(t, callerUser, "b.txt", "bbbbbbbb")
	total := func() float64 {
		rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/media", "", nil)
		return decodeJSON(t, rec)["pagination"].(map[string]any)["total_items"].(float64)
	}
	trashTotal := func() float64 {
		rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/media/trash", "", nil)
		return decodeJSON(t, rec)["pagination"].(map[string]any)["total_items"].(float64)
	}
	for range 2 {
		if rec := ms.call(t, callerUser, http.MethodDelete, fmt.Sprintf("/api/v1/media/%d", a), "", nil); rec.Code != http.StatusNoContent {
			t.Fatalf("trash = %d\n%s", rec.Code, rec.Body)
		}
	}
	if total() != 1 || trashTotal() != 1 || ms.usage(t, callerUser).Used != 12 {
		t.Errorf("after trash: %v listed, %v trashed, usage %+v", total(), trashTotal(), ms.usage(t, callerUser))
	}
	rec := ms.call(t, callerUser, http.MethodPost, fmt.Sprintf("/api/v1/media/%d/restore", a), "", nil)
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["media_id"] != float64(a) || total() != 2 {
		t.Errorf("restore = %d\n%s", rec.Code, rec.Body)
	}
	if rec := ms.call(t, callerUser, http.MethodDelete, fmt.Sprintf("/api/v1/media/%d/permanent", b), "", nil); rec.Code != http.StatusNoContent {
		t.Errorf("permanent = %d", rec.Code)
	}
	if u := ms.usage(t, callerUser); u.Used != 4 {
		t.Errorf("usage after permanent delete = %+v", u)
	}
	ms.call(t, callerUser, http.MethodDelete, fmt.Sprintf("/api/v1/media/%d", a), "", nil)
	rec = ms.call(t, callerUser, http.MethodPost, "/api/v1/media/trash/empty", "", nil)
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["deleted_count"] != float64(1) {
		t.Errorf("empty trash = %d\n%s", rec.Code, rec.Body)
	}
	ms.wantEmpty(t, callerUser)
	if n := len(ms.Audit.Find(audit.MediaDeleted)); n != 5 {
		t.Errorf("media_deleted events = %d, want 5", n)
	}
}

func TestMediaListParams(t *testing.T) {
	ms := newMediaServer(t, false)
	for i := range 3 {
		ms.upload(t, callerUser, fmt.Sprintf("f%d.txt", i), fmt.Sprintf("content %d", i))
	}
	rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/media?page=2&results_per_page=2", "", nil)
	got := decodeJSON(t, rec)
	if rec.Code != http.StatusOK || len(got["items"].([]any)) != 1 ||
		fmt.Sprint(got["pagination"]) != "map[page:2 results_per_page:2 total_items:3 total_pages:2]" {
		t.Errorf("page 2 = %d\n%s", rec.Code, rec.Body)
	}
	for _, q := range []string{"page=0", "page=-1", "page=x", "results_per_page=0", "results_per_page=101", "results_per_page=1e3"} {
		if rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/media?"+q, "", nil); rec.Code != http.StatusBadRequest {
			t.Errorf("?%s = %d, want 400", q, rec.Code)
		}
	}
}

func TestMediaUnconfigured(t *testing.T) {
	ts := newTestServer(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/media"}, {http.MethodPost, "/api/v1/media/add"}, {http.MethodGet, "/api/v1/users/storage"},
	} {
		if rec := ts.call(t, callerUser, c.method, c.path, "", nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s without media = %d, want 503", c.method, c.path, rec.Code)
		}
	}
}

func TestStorageQuotaRoutes(t *testing.T) {
	ms := newMediaServer(t, false)
	ms.Media.MaxUploadBytes = 4 << 20 // so the quota, not the upload cap, refuses below
	ms.upload(t, callerUser, "a.txt", strings.Repeat("a", 3000))
	uid := ms.id(callerUser)

	rec := ms.call(t, callerUser, http.MethodGet, "/api/v1/users/storage", "", nil)
	got := decodeJSON(t, rec)
	if rec.Code != http.StatusOK || got["user_id"] != float64(ms.Accounts[callerUser].User.ID) ||
		got["storage_used_bytes"] != float64(3000) || got["storage_quota_mb"] != nil || got["available_mb"] != nil {
		t.Errorf("unlimited usage = %d\n%s", rec.Code, rec.Body)
	}

	// Admin sets a 1 MB quota: audited, enforced, shown everywhere.
	path := "/api/v1/admin/storage-quotas/users/" + uid
	rec = ms.call(t, callerAdmin, http.MethodPut, path, `{"quota_mb": 1, "reason": "trial account"}`, nil)
	got = decodeJSON(t, rec)
	if rec.Code != http.StatusOK || got["quota_mb"] != float64(1) || got["has_quota"] != true || got["used_bytes"] != float64(3000) ||
		got["at_soft_limit"] != false || got["username"] != "alice" {
		t.Fatalf("PUT quota = %d\n%s", rec.Code, rec.Body)
	}
	if evs := ms.Audit.Find(audit.QuotaChanged); len(evs) != 1 || evs[0].TargetID != uid {
		t.Errorf("quota_changed events = %+v", evs)
	}
	if u, _ := ms.Stores.Users.UserByID(context.Background(), ms.Accounts[callerUser].User.ID); u.StorageQuotaMB == nil || *u.StorageQuotaMB != 1 {
		t.Errorf("account quota = %v", u.StorageQuotaMB)
	}
	rec = ms.call(t, callerUser, http.MethodGet, "/api/v1/users/storage", "", nil)
	got = decodeJSON(t, rec)
	if got["storage_quota_mb"] != float64(1) || got["usage_percentage"] != 0.29 || got["available_mb"] != float64(1) {
		t.Errorf("usage with quota = %s", rec.Body)
	}
	rec = ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "big.txt", strings.Repeat("b", 1<<20)))
	if rec.Code != http.StatusRequestEntityTooLarge || decodeJSON(t, rec)["code"] != "storage_quota_exceeded" {
		t.Errorf("upload past the quota = %d\n%s", rec.Code, rec.Body)
	}
	if rec := ms.call(t, callerAdmin, http.MethodGet, path, "", nil); rec.Code != http.StatusOK || decodeJSON(t, rec)["quota_mb"] != float64(1) {
		t.Errorf("GET quota = %d\n%s", rec.Code, rec.Body)
	}

	// Back to unlimited.
	rec = ms.call(t, callerAdmin, http.MethodPut, path, `{"quota_mb": null}`, nil)
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["has_quota"] != false {
		t.Errorf("PUT null = %d\n%s", rec.Code, rec.Body)
	}

	for _, c := range []struct {
		body string
		want int
	}{
		{`{}`, http.StatusUnprocessableEntity}, {`{"quota_mb": -1}`, http.StatusUnprocessableEntity},
		{`{"quota_mb": "ten"}`, http.StatusUnprocessableEntity}, {`{"quota_mb": 5, "soft_limit_pct": 0}`, http.StatusUnprocessableEntity},
	} {
		if rec := ms.call(t, callerAdmin, http.MethodPut, path, c.body, nil); rec.Code != c.want {
			t.Errorf("PUT %s = %d, want %d\n%s", c.body, rec.Code, c.want, rec.Body)
		}
	}
	if rec := ms.call(t, callerAdmin, http.MethodPut, "/api/v1/admin/storage-quotas/users/424242", `{"quota_mb": 5}`, nil); rec.Code != http.StatusNotFound {
		t.Errorf("PUT unknown user = %d", rec.Code)
	}
	if rec := ms.call(t, callerAdmin, http.MethodGet, "/api/v1/admin/storage-quotas/users/424242", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET unknown user = %d", rec.Code)
	}
	if rec := ms.call(t, callerModerator, http.MethodPut, path, `{"quota_mb": 5000}`, nil); rec.Code != http.StatusForbidden {
		t.Errorf("moderator PUT = %d", rec.Code)
	}

	rec = ms.call(t, callerAdmin, http.MethodGet, "/api/v1/admin/storage-quotas/summary?limit=2", "", nil)
	got = decodeJSON(t, rec)
	if rec.Code != http.StatusOK || got["total_quotas"] != float64(4) || len(got["items"].([]any)) != 2 ||
		fmt.Sprint(got["pagination"]) != "map[limit:2 page:1 pages:2 total:4]" {
		t.Errorf("summary = %d\n%s", rec.Code, rec.Body)
	}
	if rec := ms.call(t, callerAdmin, http.MethodGet, "/api/v1/admin/storage-quotas/summary?limit=101", "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("summary limit=101 = %d", rec.Code)
	}
}

func TestStorageRecalculate(t *testing.T) {
	ms := newMediaServer(t, false)
	ms.upload(t, callerUser, "a.txt", strings.Repeat("a", 2000))
	if err := ms.Ledger.Add(context.Background(), ms.id(callerUser), quota.ResourceStorage, 500); err != nil {
		t.Fatal(err)
	}
	rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/users/storage/recalculate", "", nil)
	got := decodeJSON(t, rec)
	re, _ := got["recalculation"].(map[string]any)
	if rec.Code != http.StatusOK || got["storage_used_bytes"] != float64(2000) || re["delta_bytes"] != float64(-500) ||
		re["previous_used_bytes"] != float64(2500) || re["fixed"] != true || re["orphaned_objects"] != float64(0) {
		t.Errorf("recalculate = %d\n%s", rec.Code, rec.Body)
	}
	if u := ms.usage(t, callerUser); u.Used != 2000 {
		t.Errorf("usage after recalculate = %+v", u)
	}
	// Nobody else's usage moved.
	if u := ms.usage(t, callerModerator); u.Used != 0 {
		t.Errorf("moderator usage = %+v", u)
	}
}
