package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// Get returns item id if the actor owns it, or any item when a.ReadAny. ErrNotFound when it
// does not exist or is someone else's.
func (s *Service) Get(ctx context.Context, a Actor, id int64) (*Item, error) {
	var (
		it  *Item
		err error
	)
	if a.ReadAny {
		it, err = s.Store.ByIDAny(ctx, id)
	} else {
		it, err = s.Store.ByID(ctx, a.UserID, id)
	}
	if err != nil {
		return nil, fmt.Errorf("media: get item %d: %w", id, err)
	}
	return it, nil
}

// Open returns item id (as Get) and its file; the caller closes the file. The file is an
// io.ReadSeeker when the Blobs backend provides one. ErrNotFound when the item is not
// readable by the actor or its file is missing.
func (s *Service) Open(ctx context.Context, a Actor, id int64) (*Item, io.ReadCloser, storage.Info, error) {
	it, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, nil, storage.Info{}, err
	}
	rc, info, err := s.Blobs.Get(ctx, it.BlobKey)
	if errors.Is(err, storage.ErrNotExist) {
		s.log().ErrorContext(ctx, "media: item file missing", "id", it.ID, "key", it.BlobKey)
		return nil, nil, storage.Info{}, fmt.Errorf("%w: the item's file is missing", ErrNotFound)
	}
	if err != nil {
		return nil, nil, storage.Info{}, fmt.Errorf("media: open file of item %d: %w", id, err)
	}
	return it, rc, info, nil
}

// List returns one page of the user's items outside the trash, newest first. ErrInvalid for
// bad options.
func (s *Service) List(ctx context.Context, userID int64, o ListOptions) (Page, error) {
	return s.list(ctx, userID, o, s.Store.List)
}

// ListTrash returns one page of the user's trashed items, newest first. ErrInvalid for bad
// options.
func (s *Service) ListTrash(ctx context.Context, userID int64, o ListOptions) (Page, error) {
	return s.list(ctx, userID, o, s.Store.ListTrash)
}

func (s *Service) list(ctx context.Context, userID int64, o ListOptions,
	fn func(context.Context, int64, ListOptions) ([]Item, int, error)) (Page, error) {
	if err := o.Valid(); err != nil {
		return Page{}, err
	}
	items, total, err := fn(ctx, userID, o)
	if err != nil {
		return Page{}, fmt.Errorf("media: list: %w", err)
	}
	return Page{Items: items, Total: total, ListOptions: o}, nil
}

// Trash moves the actor's item to the trash; it keeps counting against the quota. Trashing
// a trashed item succeeds. ErrNotFound when it is not the actor's.
func (s *Service) Trash(ctx context.Context, a Actor, id int64) error {
	if err := s.Store.SetTrashed(ctx, a.UserID, id, true, s.now()); err != nil {
		return fmt.Errorf("media: trash item %d: %w", id, err)
	}
	s.audit(ctx, a, audit.Event{Action: audit.MediaDeleted, TargetType: "media",
		TargetID: strconv.FormatInt(id, 10), Success: true, Details: map[string]any{"permanent": false}})
	return nil
}

// Restore takes the actor's item out of the trash (a no-op when it is not trashed).
// ErrNotFound when it is not the actor's.
func (s *Service) Restore(ctx context.Context, a Actor, id int64) error {
	if err := s.Store.SetTrashed(ctx, a.UserID, id, false, s.now()); err != nil {
		return fmt.Errorf("media: restore item %d: %w", id, err)
	}
	return nil
}

// DeletePermanent removes the actor's item, trashed or not, and its file, and frees its
// bytes (the file's, its text's, thumbnail's, transcripts' and chunks') from the quota. ErrNotFound when it is not the actor's. The row and the usage change
// together (one Ledger.Locked step, so a recalculation never sees one without the other);
// once they are done the call succeeds, and a file that fails to go is logged.
func (s *Service) DeletePermanent(ctx context.Context, a Actor, id int64) error {
	it, err := s.Store.ByID(ctx, a.UserID, id)
	if err != nil {
		return fmt.Errorf("media: delete item %d: %w", id, err)
	}
	return s.deletePermanent(ctx, a, it)
}

func (s *Service) deletePermanent(ctx context.Context, a Actor, it *Item) error {
	sub := subject(it.UserID)
	var derived int64
	err := s.Ledger.Locked(ctx, sub, quota.ResourceStorage, func(ctx context.Context) error {
		var err error
		if derived, err = derivedBytes(ctx, s.Processing, it); err != nil {
			return fmt.Errorf("media: delete item %d: measure its text: %w", it.ID, err)
		}
		if err := s.Store.Delete(ctx, it.UserID, it.ID); err != nil {
			return fmt.Errorf("media: delete item %d: %w", it.ID, err)
		}
		if err := s.Ledger.Add(ctx, sub, quota.ResourceStorage, -(it.Size + derived)); err != nil {
			return fmt.Errorf("media: free storage: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The row is gone: finish even if the caller gives up now.
	ctx = context.WithoutCancel(ctx)
	s.deleteBlob(ctx, it.BlobKey)
	if isAV(it) {
		s.deleteBlob(ctx, ThumbnailKey(it.BlobKey))
	}
	s.audit(ctx, a, audit.Event{Action: audit.MediaDeleted, TargetType: "media",
		TargetID: strconv.FormatInt(it.ID, 10), Success: true,
		Details: map[string]any{"permanent": true, "size_bytes": it.Size, "derived_bytes": derived}})
	return nil
}

// EmptyTrash permanently deletes every trashed item of the actor and returns how many. On an
// error the items deleted so far stay deleted.
func (s *Service) EmptyTrash(ctx context.Context, a Actor) (int, error) {
	n := 0
	for {
		items, _, err := s.Store.ListTrash(ctx, a.UserID, ListOptions{Page: 1, PerPage: MaxPerPage})
		if err != nil {
			return n, fmt.Errorf("media: empty trash: %w", err)
		}
		if len(items) == 0 {
			return n, nil
		}
		deleted := 0
		for i := range items {
			err := s.deletePermanent(ctx, a, &items[i])
			switch {
			case err == nil:
				deleted++
			case !errors.Is(err, ErrNotFound): // NotFound: deleted concurrently
				return n + deleted, err
			}
		}
		if deleted == 0 {
			return n, nil
		}
		n += deleted
	}
}

// Usage returns the user's storage usage (Limit -1 when unlimited).
func (s *Service) Usage(ctx context.Context, userID int64) (quota.Usage, error) {
	us, err := s.Ledger.Usage(ctx, subject(userID))
	if err != nil {
		return quota.Usage{}, fmt.Errorf("media: read storage usage: %w", err)
	}
	for _, u := range us {
		if u.Resource == quota.ResourceStorage {
			return u, nil
		}
	}
	return quota.Usage{Resource: quota.ResourceStorage, Limit: -1}, nil
}

// SetLimit sets the user's storage quota in the ledger (bytes, -1 = unlimited); uploads are
// checked against it from the next reservation on. The database's ledger keeps it in the
// account (storage_quota_mb, whole MiB), where auth.Service.UpdateUser, which audits, also
// writes it. Errors are the ledger's, wrapped (quota.ErrInvalid for a limit below -1).
func (s *Service) SetLimit(ctx context.Context, userID, limitBytes int64) error {
	if userID <= 0 {
		return Detailf(ErrInvalid, "no user")
	}
	if err := s.Ledger.SetLimit(ctx, subject(userID), quota.ResourceStorage, limitBytes); err != nil {
		return fmt.Errorf("media: set storage limit: %w", err)
	}
	return nil
}

// CheckDeclared refuses, before any byte of a request is read, one declaring at least n
// bytes of files that cannot fit the actor's quota even if every live reservation were
// released: ErrQuotaExceeded (audited). n ≤ 0 or an unlimited quota passes.
func (s *Service) CheckDeclared(ctx context.Context, a Actor, n int64) error {
	if n <= 0 {
		return nil
	}
	u, err := s.Usage(ctx, a.UserID)
	if err != nil || u.Limit < 0 || n <= u.Limit-u.Used {
		return err
	}
	remaining := max(0, u.Limit-u.Used-u.Reserved)
	s.auditQuota(ctx, a, n, remaining)
	return fmt.Errorf("%w (%w): %d bytes do not fit in the remaining %d bytes", ErrQuotaExceeded, quota.ErrExceeded, n, remaining)
}
