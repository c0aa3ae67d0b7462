package mediatest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/media"
)

// Memory is an in-memory media.Store for tests and examples. The zero value is not usable;
// call NewMemory. Safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	nextID int64
	items  map[int64]media.Item
}

var _ media.Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{items: map[int64]media.Item{}} }

// clone copies an item so callers never share its slices or pointers with the store.
func clone(it media.Item) *media.Item {
	it.Keywords = slices.Clone(it.Keywords)
	if it.TrashedAt != nil {
		t := *it.TrashedAt
		it.TrashedAt = &t
	}
	return &it
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func notFound(id int64) error { return fmt.Errorf("%w: media item %d", media.ErrNotFound, id) }

// Create implements media.Store.
func (m *Memory) Create(_ context.Context, it *media.Item) error {
	if it.UserID <= 0 || it.Title == "" || it.MediaType == "" || it.ContentHash == "" ||
		it.BlobKey == "" || it.Status == "" || it.Size < 0 {
		return fmt.Errorf("%w: user, title, media type, content hash, blob key and status are required", media.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := it.UUID
	if id == "" {
		id = uuid.NewString()
	}
	for _, o := range m.items {
		switch {
		case o.UserID == it.UserID && o.ContentHash == it.ContentHash:
			return fmt.Errorf("%w: the user already has this content", media.ErrConflict)
		case o.BlobKey == it.BlobKey:
			return fmt.Errorf("%w: blob key in use", media.ErrConflict)
		case o.UUID == id:
			return fmt.Errorf("%w: uuid in use", media.ErrConflict)
		}
	}
	now := utc(time.Now())
	created, updated := now, now
	if !it.CreatedAt.IsZero() {
		created, updated = utc(it.CreatedAt), utc(it.CreatedAt)
	}
	if !it.UpdatedAt.IsZero() {
		updated = utc(it.UpdatedAt)
	}
	m.nextID++
	it.ID, it.UUID, it.CreatedAt, it.UpdatedAt = m.nextID, id, created, updated
	it.Keywords = slices.Compact(slices.Sorted(slices.Values(it.Keywords)))
	it.Trashed, it.TrashedAt = false, nil
	m.items[it.ID] = *clone(*it)
	return nil
}

// ByID implements media.Store.
func (m *Memory) ByID(_ context.Context, userID, id int64) (*media.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok || it.UserID != userID {
		return nil, notFound(id)
	}
	return clone(it), nil
}

// ByIDAny implements media.Store.
func (m *Memory) ByIDAny(_ context.Context, id int64) (*media.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok {
		return nil, notFound(id)
	}
	return clone(it), nil
}

// ByHash implements media.Store.
func (m *Memory) ByHash(_ context.Context, userID int64, hash string) (*media.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range m.items {
		if it.UserID == userID && it.ContentHash == hash {
			return clone(it), nil
		}
	}
	return nil, fmt.Errorf("%w: no item with that content", media.ErrNotFound)
}

// List implements media.Store.
func (m *Memory) List(_ context.Context, userID int64, o media.ListOptions) ([]media.Item, int, error) {
	return m.list(userID, false, o)
}

// ListTrash implements media.Store.
func (m *Memory) ListTrash(_ context.Context, userID int64, o media.ListOptions) ([]media.Item, int, error) {
	return m.list(userID, true, o)
}

func (m *Memory) list(userID int64, trashed bool, o media.ListOptions) ([]media.Item, int, error) {
	if err := o.Valid(); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []media.Item
	for _, it := range m.items {
		if it.UserID == userID && it.Trashed == trashed {
			all = append(all, *clone(it))
		}
	}
	slices.SortFunc(all, func(a, b media.Item) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	total := len(all)
	start := min(o.Offset(), total)
	end := min(start+o.PerPage, total)
	return all[start:end], total, nil
}

// Update implements media.Store.
func (m *Memory) Update(_ context.Context, it *media.Item, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.items[it.ID]
	if !ok || old.UserID != it.UserID {
		return notFound(it.ID)
	}
	if it.Title == "" || it.MediaType == "" {
		return fmt.Errorf("%w: title and media type are required", media.ErrInvalid)
	}
	old.Title, old.Author, old.MediaType, old.Filename = it.Title, it.Author, it.MediaType, it.Filename
	old.Keywords = slices.Compact(slices.Sorted(slices.Values(it.Keywords)))
	old.UpdatedAt = utc(at)
	m.items[it.ID] = old
	it.UpdatedAt = old.UpdatedAt
	return nil
}

// SetTrashed implements media.Store.
func (m *Memory) SetTrashed(_ context.Context, userID, id int64, trashed bool, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok || it.UserID != userID {
		return notFound(id)
	}
	if it.Trashed == trashed {
		return nil
	}
	it.Trashed, it.TrashedAt, it.UpdatedAt = trashed, nil, utc(at)
	if trashed {
		t := utc(at)
		it.TrashedAt = &t
	}
	m.items[id] = it
	return nil
}

// Delete implements media.Store.
func (m *Memory) Delete(_ context.Context, userID, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok || it.UserID != userID {
		return notFound(id)
	}
	delete(m.items, id)
	return nil
}

// Sizes implements media.Store.
func (m *Memory) Sizes(_ context.Context, userID int64) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for _, it := range m.items {
		if it.UserID == userID {
			out[it.BlobKey] = it.Size
		}
	}
	return out, nil
}
