package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"mime"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/storage"
)

// Memory returns an empty in-memory storage.Blobs that also implements storage.Lister. It
// holds every object in memory (so it is for tests, not for large data), derives a missing
// content type from the key's extension like the other backends, and uses a content hash as
// the ETag. It is safe for concurrent use.
func Memory() storage.Blobs {
	return &memStore{objs: make(map[string]memObject)}
}

type memStore struct {
	mu   sync.RWMutex
	objs map[string]memObject
}

type memObject struct {
	data []byte // never modified after it is stored
	info storage.Info
}

var (
	_ storage.Blobs  = (*memStore)(nil)
	_ storage.Lister = (*memStore)(nil)
)

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	src := io.Reader(storage.ContextReader(ctx, r))
	if o.MaxSize > 0 {
		src = io.LimitReader(src, o.MaxSize+1)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(src); err != nil {
		return storage.Info{}, fmt.Errorf("storagetest: put %s: %w", key, err)
	}
	if o.MaxSize > 0 && int64(buf.Len()) > o.MaxSize {
		return storage.Info{}, fmt.Errorf("%w: %s is over %d bytes", storage.ErrTooLarge, key, o.MaxSize)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("storagetest: put %s: %w", key, err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	info := storage.Info{
		Key:         key,
		Size:        int64(len(data)),
		ModTime:     time.Now().UTC(),
		ContentType: contentType(key, o.ContentType),
		ETag:        hex.EncodeToString(sum[:16]),
	}
	m.mu.Lock()
	m.objs[key] = memObject{data: data, info: info}
	m.mu.Unlock()
	return info, nil
}

func (m *memStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	obj, err := m.lookup(ctx, key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	return io.NopCloser(bytes.NewReader(obj.data)), obj.info, nil
}

func (m *memStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	obj, err := m.lookup(ctx, key)
	return obj.info, err
}

func (m *memStore) lookup(ctx context.Context, key string) (memObject, error) {
	if err := storage.ValidKey(key); err != nil {
		return memObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	m.mu.RLock()
	obj, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("%w: %s", storage.ErrNotExist, key)
	}
	return obj, nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

// List yields a snapshot taken when iteration starts.
func (m *memStore) List(ctx context.Context, prefix string) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		m.mu.RLock()
		var infos []storage.Info
		for k, obj := range m.objs {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, obj.info)
			}
		}
		m.mu.RUnlock()
		slices.SortFunc(infos, func(a, b storage.Info) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// contentType is the given type, else the one for the key's extension, else
// application/octet-stream.
func contentType(key, given string) string {
	if given != "" {
		return given
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}
