package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/tldw-go/tldw/storage"
)

const (
	// DefaultPartSize is the multipart part size when Options.PartSize is 0.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part size S3 accepts.
	MinPartSize = 5 << 20
	// DefaultEndpoint is AWS S3.
	DefaultEndpoint = "s3.amazonaws.com"

	// smallObject is the largest object sent with a single PUT.
	smallObject = 1 << 20
	maxPartSize = 5 << 30
)

// Options configure a Store. The zero value of UseSSL means plain HTTP, so set it (ParseURL
// does) for anything but a local test server.
type Options struct {
	// Endpoint is host[:port]; an "http://" or "https://" prefix also sets UseSSL.
	// Empty means DefaultEndpoint.
	Endpoint string
	// Region is the bucket's region ("auto" for R2); empty asks the server once.
	Region string
	// AccessKey and SecretKey are the credentials; both empty means anonymous requests.
	AccessKey, SecretKey string
	// Bucket must exist.
	Bucket string
	// Prefix, when set, is prepended to every key as Prefix + "/".
	Prefix string
	// UseSSL selects HTTPS.
	UseSSL bool
	// PathStyle forces path-style requests (endpoint/bucket/key), which MinIO and most
	// self-hosted servers need; otherwise the style is chosen from the endpoint.
	PathStyle bool
	// PartSize is the multipart part size (at least MinPartSize); 0 means DefaultPartSize.
	// Each upload in progress holds one part in memory.
	PartSize uint64
}

// Store is a storage.Blobs (and storage.Lister) on an S3 bucket. It is safe for concurrent
// use.
type Store struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize uint64
}

var (
	_ storage.Blobs  = (*Store)(nil)
	_ storage.Lister = (*Store)(nil)
	_ storage.Pinger = (*Store)(nil)
)

// ParseURL parses MEDIA_STORAGE_URL, s3://bucket[/prefix][?endpoint=&region=&ssl=&path_style=
// &part_size_mb=], into Options with UseSSL defaulting to true. Credentials are not taken
// from the URL: one with user information is rejected so secrets stay out of configuration
// that gets logged. It returns an error for another scheme, a missing or invalid bucket, an
// invalid prefix or an unknown or malformed parameter.
func ParseURL(u string) (Options, error) {
	p, err := url.Parse(u)
	if err != nil {
		return Options{}, errors.New("s3blob: malformed storage URL")
	}
	if p.Scheme != "s3" {
		return Options{}, fmt.Errorf("s3blob: storage URL scheme %q, want s3", p.Scheme)
	}
	if p.User != nil {
		return Options{}, errors.New("s3blob: credentials do not belong in the storage URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	o := Options{Bucket: p.Host, Prefix: strings.Trim(p.Path, "/"), UseSSL: true}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return Options{}, fmt.Errorf("s3blob: bucket %q: %w", o.Bucket, err)
	}
	for k, vs := range p.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			o.Endpoint = v
		case "region":
			o.Region = v
		case "ssl":
			o.UseSSL, err = strconv.ParseBool(v)
		case "path_style":
			o.PathStyle, err = strconv.ParseBool(v)
		case "part_size_mb":
			var mb uint64
			mb, err = strconv.ParseUint(v, 10, 32)
			o.PartSize = mb << 20
		default:
			return Options{}, fmt.Errorf("s3blob: unknown storage URL parameter %q", k)
		}
		if err != nil {
			return Options{}, fmt.Errorf("s3blob: storage URL parameter %s=%q is malformed", k, v)
		}
	}
	if _, err := o.normalized(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// normalized applies defaults and checks the options.
func (o Options) normalized() (Options, error) {
	switch {
	case strings.HasPrefix(o.Endpoint, "https://"):
		o.Endpoint, o.UseSSL = strings.TrimPrefix(o.Endpoint, "https://"), true
	case strings.HasPrefix(o.Endpoint, "http://"):
		o.Endpoint, o.UseSSL = strings.TrimPrefix(o.Endpoint, "http://"), false
	}
	o.Endpoint = strings.TrimSuffix(o.Endpoint, "/")
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if strings.ContainsAny(o.Endpoint, "/?#@") {
		return o, fmt.Errorf("s3blob: endpoint %q must be host[:port]", o.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return o, fmt.Errorf("s3blob: bucket %q: %w", o.Bucket, err)
	}
	o.Prefix = strings.Trim(o.Prefix, "/")
	if o.Prefix != "" {
		if err := storage.ValidKey(o.Prefix); err != nil {
			return o, fmt.Errorf("s3blob: prefix: %w", err)
		}
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > maxPartSize {
		return o, fmt.Errorf("s3blob: part size %d is outside [%d, %d]", o.PartSize, MinPartSize, maxPartSize)
	}
	return o, nil
}

// Open connects to the bucket and checks that it exists. It returns an error for invalid
// options, an unreachable endpoint, refused credentials or a missing bucket.
func Open(ctx context.Context, o Options) (*Store, error) {
	return open(ctx, o, nil)
}

// open is Open with an HTTP transport (nil for the default), which tests use to trust their
// server's certificate.
func open(ctx context.Context, o Options, transport http.RoundTripper) (*Store, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       o.UseSSL,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	ok, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3blob: bucket %s at %s: %w", o.Bucket, o.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3blob: bucket %s does not exist at %s", o.Bucket, o.Endpoint)
	}
	s := &Store{client: client, bucket: o.Bucket, partSize: o.PartSize}
	if o.Prefix != "" {
		s.prefix = o.Prefix + "/"
	}
	return s, nil
}

// Ping checks that the bucket still exists and the credentials are accepted.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: bucket %s does not exist", s.bucket)
	}
	return nil
}

// Put uploads r under key. Up to 1 MiB goes in one PUT; more is streamed as a multipart
// upload that is aborted on failure. It returns ErrInvalidKey, ErrTooLarge (after reading at
// most MaxSize+1 bytes), the reader's or ctx's error, or the server's error; on any error
// nothing new is stored under the key. Info.ModTime may be zero.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	limit := o.MaxSize
	if limit <= 0 {
		limit = -1 // PutOptions.MaxSize 0: no limit
	}
	src := storage.LimitReader(storage.ContextReader(ctx, r), limit)
	ctype := contentType(key, o.ContentType)
	opts := minio.PutObjectOptions{ContentType: ctype, PartSize: s.partSize}

	var head bytes.Buffer
	n, err := head.ReadFrom(io.LimitReader(src, smallObject+1))
	var up minio.UploadInfo
	if err == nil {
		if n <= smallObject {
			up, err = s.client.PutObject(ctx, s.bucket, s.name(key), bytes.NewReader(head.Bytes()), n, opts)
		} else {
			up, err = s.client.PutObject(ctx, s.bucket, s.name(key), io.MultiReader(&head, src), -1, opts)
		}
	}
	switch {
	case src.Exceeded():
		return storage.Info{}, fmt.Errorf("%w: %s is over %d bytes", storage.ErrTooLarge, key, o.MaxSize)
	case err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return storage.Info{}, fmt.Errorf("s3blob: put %s: %w (%w)", key, ctx.Err(), err)
	case err != nil:
		return storage.Info{}, fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	return storage.Info{Key: key, Size: up.Size, ModTime: up.LastModified, ContentType: ctype, ETag: up.ETag}, nil
}

// Get opens the object; the caller closes the reader, whose reads are bound to ctx. It
// returns ErrInvalidKey, ErrNotExist or the server's error.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	body, oi, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, storage.Info{}, mapErr("get", key, err)
	}
	return body, s.info(key, oi), nil
}

// Stat describes the object. It returns ErrInvalidKey, ErrNotExist or the server's error.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.name(key), minio.StatObjectOptions{})
	if err != nil {
		return storage.Info{}, mapErr("stat", key, err)
	}
	return s.info(key, oi), nil
}

// Delete removes the object; nil when it is absent. It returns ErrInvalidKey or the server's
// error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.name(key), minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(mapErr("delete", key, err), storage.ErrNotExist) {
		return fmt.Errorf("s3blob: delete %s: %w", key, err)
	}
	return nil
}

// List yields the objects whose key starts with prefix, in key order, page by page. Objects
// whose names are not valid keys (such as console-made "folder/" markers) are skipped.
// ContentType is empty. It yields the server's or ctx's error and then stops.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
			if oi.Err != nil {
				yield(storage.Info{}, fmt.Errorf("s3blob: list %q: %w", prefix, oi.Err))
				return
			}
			key, ok := strings.CutPrefix(oi.Key, s.prefix)
			if !ok || storage.ValidKey(key) != nil {
				continue
			}
			if !yield(s.info(key, oi), nil) {
				return
			}
		}
	}
}

func (s *Store) name(key string) string { return s.prefix + key }

func (s *Store) info(key string, oi minio.ObjectInfo) storage.Info {
	return storage.Info{
		Key:         key,
		Size:        oi.Size,
		ModTime:     oi.LastModified.UTC(),
		ContentType: oi.ContentType,
		ETag:        oi.ETag,
	}
}

func mapErr(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || (resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket) {
		return fmt.Errorf("%w: %s", storage.ErrNotExist, key)
	}
	return fmt.Errorf("s3blob: %s %s: %w", op, key, err)
}

func contentType(key, given string) string {
	if given != "" {
		return given
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}
