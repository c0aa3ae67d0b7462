package storage

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// Errors returned by Blobs implementations (wrapped with detail).
var (
	// ErrNotExist: no object under the key.
	ErrNotExist = errors.New("storage: object does not exist")
	// ErrTooLarge: the object exceeds PutOptions.MaxSize; nothing was stored.
	ErrTooLarge = errors.New("storage: object too large")
	// ErrInvalidKey: the key is empty, absolute, has empty, "." or ".." segments, a NUL or a
	// backslash, or is longer than MaxKeyLen.
	ErrInvalidKey = errors.New("storage: invalid key")
)

// MaxKeyLen bounds a key's length in bytes.
const MaxKeyLen = 1024

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ModTime     time.Time
	ContentType string
	ETag        string // opaque; changes when the content does
}

// PutOptions tune a Put.
type PutOptions struct {
	// MaxSize, when > 0, is the largest object accepted: Put reads at most MaxSize+1 bytes
	// and returns ErrTooLarge without storing anything when there are more.
	MaxSize     int64
	ContentType string
}

// Blobs is streaming object storage. Keys are slash-separated relative paths such as
// "42/2026/11/abc.mp4". A Put is atomic: readers see the old object or the whole new one,
// never a torn one, and a failed or cancelled Put leaves nothing under the key.
// Implementations are safe for concurrent use.
type Blobs interface {
	// Put stores r under key, streaming (never buffering the whole object in memory).
	Put(ctx context.Context, key string, r io.Reader, o PutOptions) (Info, error)
	// Get opens the object; the caller closes it. ErrNotExist when absent.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes the object. ErrNotExist when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; nil when it was already absent.
	Delete(ctx context.Context, key string) error
}

// Lister is implemented by Blobs that can enumerate their keys (quota reconciliation uses
// it).
type Lister interface {
	// List yields every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
}

// Pinger is implemented by Blobs that can tell whether their backend is usable without
// touching any object (health checks use it).
type Pinger interface {
	// Ping returns nil when the backend answers and accepts writes as far as it can tell
	// cheaply, or the reason it does not.
	Ping(ctx context.Context) error
}

// ContextReader returns a reader of r that fails with ctx's error once ctx is done, so a
// long copy (a Put, an extractor's read) stops on cancel.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ValidKey reports whether key is acceptable, returning an ErrInvalidKey-wrapped error when
// not.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return errInvalid(key, "empty or longer than 1024 bytes")
	}
	if key[0] == '/' || key[len(key)-1] == '/' {
		return errInvalid(key, "leading or trailing slash")
	}
	start := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) {
			switch key[i] {
			case 0, '\\':
				return errInvalid(key, "NUL or backslash")
			case '/':
			default:
				continue
			}
		}
		seg := key[start:i]
		if seg == "" || seg == "." || seg == ".." {
			return errInvalid(key, "empty, '.' or '..' segment")
		}
		start = i + 1
	}
	return nil
}

func errInvalid(key, why string) error {
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return &keyError{key: key, why: why}
}

type keyError struct{ key, why string }

func (e *keyError) Error() string        { return "storage: invalid key " + quote(e.key) + ": " + e.why }
func (e *keyError) Is(target error) bool { return target == ErrInvalidKey }

func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' {
			b = append(b, '?')
		} else {
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}
