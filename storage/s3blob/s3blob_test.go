package s3blob

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// fakeS3 starts an in-process S3 server with the bucket "media" and returns options for it
// and the transport that trusts its certificate. It serves HTTPS because over plain HTTP
// minio-go signs payloads in aws-chunked encoding, which gofakes3 does not decode for
// multipart parts (real servers do; TLDW_TEST_S3_URL with ssl=false covers that path).
func fakeS3(t *testing.T) (Options, http.RoundTripper) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	return Options{
		Endpoint:  strings.TrimPrefix(ts.URL, "https://"),
		UseSSL:    true,
		Region:    "us-east-1",
		AccessKey: "test-access",
		SecretKey: "test-secret",
		Bucket:    "media",
		Prefix:    "tenant",
		PathStyle: true,
		PartSize:  MinPartSize,
	}, ts.Client().Transport
}

func openStore(t *testing.T, o Options, transport http.RoundTripper) *Store {
	t.Helper()
	s, err := open(t.Context(), o, transport)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformanceFake(t *testing.T) {
	storagetest.TestBlobs(t, func(t *testing.T) storage.Blobs {
		o, tr := fakeS3(t)
		return openStore(t, o, tr)
	},
		storagetest.SkipMemoryCheck()) // the fake server keeps objects on the test's heap
}

// TestConformanceReal runs the suite against TLDW_TEST_S3_URL
// (s3://ACCESS:SECRET@host:port/bucket?region=..&ssl=false), each subtest under a fresh
// prefix that is emptied afterwards. It skips when the variable is unset, also in CI, which
// has no S3 server.
func TestConformanceReal(t *testing.T) {
	raw := os.Getenv("TLDW_TEST_S3_URL")
	if raw == "" {
		t.Skip("TLDW_TEST_S3_URL not set")
	}
	base, err := parseTestURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.TestBlobs(t, func(t *testing.T) storage.Blobs {
		o := base
		o.Prefix = "tldw-test/" + strings.ToLower(rand.Text())
		s := openStore(t, o, nil)
		t.Cleanup(func() {
			ctx := context.Background()
			for info, err := range s.List(ctx, "") {
				if err != nil {
					t.Logf("cleanup: %v", err)
					return
				}
				_ = s.Delete(ctx, info.Key)
			}
		})
		return s
	})
}

func parseTestURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.User == nil {
		return Options{}, errors.New("TLDW_TEST_S3_URL must look like s3://ACCESS:SECRET@host:port/bucket?region=..&ssl=false")
	}
	secret, _ := u.User.Password()
	q := u.Query()
	return Options{
		Endpoint:  u.Host,
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Bucket:    strings.Trim(u.Path, "/"),
		Region:    q.Get("region"),
		UseSSL:    q.Get("ssl") != "false",
		PathStyle: q.Get("path_style") != "false",
	}, nil
}

func TestAbortedUploadsLeaveNothing(t *testing.T) {
	o, tr := fakeS3(t)
	s := openStore(t, o, tr)
	ctx := t.Context()
	big := func() io.Reader { return io.LimitReader(zeros{}, 3*smallObject) }

	// Over MaxSize on the multipart path (more than smallObject bytes).
	if _, err := s.Put(ctx, "u1/over.bin", big(), storage.PutOptions{MaxSize: 2 * smallObject}); !errors.Is(err, storage.ErrTooLarge) {
		t.Errorf("Put = %v, want ErrTooLarge", err)
	}
	// A reader failing after the first MiB, also multipart.
	boom := errors.New("boom")
	failing := io.MultiReader(io.LimitReader(zeros{}, 2*smallObject), errReader{boom})
	if _, err := s.Put(ctx, "u1/failed.bin", failing, storage.PutOptions{}); !errors.Is(err, boom) {
		t.Errorf("Put = %v, want the reader's error", err)
	}
	// Cancelled midway.
	cctx, cancel := context.WithCancel(ctx)
	cancelling := io.MultiReader(io.LimitReader(zeros{}, 2*smallObject), cancelNow{cancel}, big())
	if _, err := s.Put(cctx, "u1/cancelled.bin", cancelling, storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put = %v, want context.Canceled", err)
	}

	uploads, err := minio.Core{Client: s.client}.ListMultipartUploads(ctx, o.Bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind, want all aborted", len(uploads.Uploads))
	}
	raw := openStore(t, Options{Endpoint: o.Endpoint, UseSSL: true, Bucket: o.Bucket, PathStyle: true, Region: o.Region}, tr)
	for info, err := range raw.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("object %q stored by a failed Put", info.Key)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type cancelNow struct{ cancel context.CancelFunc }

func (c cancelNow) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

func TestPrefixAndContentType(t *testing.T) {
	o, tr := fakeS3(t)
	s := openStore(t, o, tr)
	ctx := t.Context()
	if _, err := s.Put(ctx, "u1/a.mp4", strings.NewReader("video"), storage.PutOptions{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "u1/b.json", strings.NewReader("{}"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// The prefix-less view of the bucket sees the objects under "tenant/".
	rawOpts := o
	rawOpts.Prefix = ""
	raw := openStore(t, rawOpts, tr)
	for key, want := range map[string]string{"tenant/u1/a.mp4": "video/mp4", "tenant/u1/b.json": "application/json"} {
		info, err := raw.Stat(ctx, key)
		if err != nil || info.ContentType != want {
			t.Errorf("Stat(%q) = %+v, %v; want type %q", key, info, err, want)
		}
	}
	// Keys outside the prefix are invisible, and non-key names (folder markers) are skipped.
	if _, err := raw.client.PutObject(ctx, o.Bucket, "tenant/u1/folder/", strings.NewReader(""), 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Put(ctx, "other.txt", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for info, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"u1/a.mp4", "u1/b.json"}) {
		t.Errorf("List = %q", keys)
	}
	if _, err := s.Stat(ctx, "other.txt"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat outside the prefix = %v, want ErrNotExist", err)
	}
}

func TestOpenErrors(t *testing.T) {
	o, tr := fakeS3(t)
	missing := o
	missing.Bucket = "no-such-bucket"
	if _, err := open(t.Context(), missing, tr); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open(missing bucket) = %v, want a does-not-exist error", err)
	}
	for name, mutate := range map[string]func(*Options){
		"no bucket":         func(o *Options) { o.Bucket = "" },
		"bad bucket":        func(o *Options) { o.Bucket = "Bad_Bucket" },
		"bad prefix":        func(o *Options) { o.Prefix = "a/../b" },
		"small parts":       func(o *Options) { o.PartSize = 1 << 20 },
		"endpoint path":     func(o *Options) { o.Endpoint = "host:9000/x" },
		"endpoint userinfo": func(o *Options) { o.Endpoint = "user@host" },
	} {
		bad := o
		mutate(&bad)
		if _, err := open(t.Context(), bad, tr); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func TestParseURL(t *testing.T) {
	good := map[string]Options{
		"s3://media":            {Bucket: "media", UseSSL: true},
		"s3://media/tldw/prod/": {Bucket: "media", Prefix: "tldw/prod", UseSSL: true},
		"s3://media/p?endpoint=minio:9000&region=eu-west-1&ssl=false&path_style=true&part_size_mb=16": {
			Bucket: "media", Prefix: "p", Endpoint: "minio:9000", Region: "eu-west-1",
			PathStyle: true, PartSize: 16 << 20,
		},
		"s3://bucket?endpoint=acct.r2.cloudflarestorage.com&region=auto": {
			Bucket: "bucket", Endpoint: "acct.r2.cloudflarestorage.com", Region: "auto", UseSSL: true,
		},
	}
	for in, want := range good {
		got, err := ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{
		"", "media", "http://media", "s3://", "s3:///prefix", "s3://Bad_Bucket",
		"s3://key:secret@media", "s3://media?ssl=maybe", "s3://media?path_style=2",
		"s3://media?part_size_mb=1", "s3://media?part_size_mb=x", "s3://media?bogus=1",
		"s3://media/a/../b", "s3://media?endpoint=h/x",
	}
	for _, in := range bad {
		if o, err := ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", in, o)
		}
	}
	// Errors never echo credentials.
	if _, err := ParseURL("s3://AKIAXXXX:topsecret@media"); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("ParseURL with credentials: %v", err)
	}
}

func TestNormalizedEndpointScheme(t *testing.T) {
	for in, want := range map[string]struct {
		endpoint string
		ssl      bool
	}{
		"https://s3.example.com/": {"s3.example.com", true},
		"http://minio:9000":       {"minio:9000", false},
		"":                        {DefaultEndpoint, true},
	} {
		o, err := Options{Endpoint: in, Bucket: "media", UseSSL: true}.normalized()
		if err != nil || o.Endpoint != want.endpoint || o.UseSSL != want.ssl || o.PartSize != DefaultPartSize {
			t.Errorf("normalized(%q) = %+v, %v; want %+v", in, o, err, want)
		}
	}
}
