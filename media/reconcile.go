package media

import (
	"context"
	"fmt"
	"strings"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// Drift compares a user's recorded storage usage with what they actually store.
type Drift struct {
	UserID   int64
	Recorded int64 // committed usage in the ledger
	Reserved int64 // held by live reservations (uploads in flight)
	Limit    int64 // the quota, -1 = unlimited
	Items    int   // the user's items, trashed ones included
	Derived  int64 // the bytes of their extracted text and chunks (with Service.Processing)
	Actual   int64 // the sum of those items' sizes and Derived: what usage should be
	Delta    int64 // Actual - Recorded; 0 when consistent
	// Listed reports whether Blobs could be listed (storage.Lister); the next three fields
	// are meaningful only then.
	Listed bool
	// Orphans and OrphanBytes count objects under the user's prefix that no item refers to
	// (left by a crash, or an upload finishing right now); they are not charged.
	Orphans     int
	OrphanBytes int64
	// Missing counts items whose object is absent.
	Missing int
	// Fixed reports that the ledger was corrected by Delta.
	Fixed bool
}

// Reconcile recomputes the user's storage usage from their items and their derived text and
// chunks (and, when Blobs is a
// storage.Lister, checks the objects under "<user_id>/" against them) and reports the drift
// from the ledger. With fix, a non-zero Delta is applied to the ledger (Ledger.Add). Usage
// and items are read (and fixed) in one Ledger.Locked step, which uploads and deletes take
// to change an item row and its usage together, so the result is consistent while they
// run. Errors are backend errors, wrapped.
func (s *Service) Reconcile(ctx context.Context, userID int64, fix bool) (Drift, error) {
	if userID <= 0 {
		return Drift{}, Detailf(ErrInvalid, "no user")
	}
	d := Drift{UserID: userID}
	var sizes map[string]int64
	err := s.Ledger.Locked(ctx, subject(userID), quota.ResourceStorage, func(ctx context.Context) error {
		u, err := s.Usage(ctx, userID)
		if err != nil {
			return err
		}
		d.Recorded, d.Reserved, d.Limit = u.Used, u.Reserved, u.Limit
		if sizes, err = s.Store.Sizes(ctx, userID); err != nil {
			return fmt.Errorf("media: reconcile: %w", err)
		}
		d.Items = len(sizes)
		for _, n := range sizes {
			d.Actual += n
		}
		if d.Derived, err = s.derivedOf(ctx, userID); err != nil {
			return fmt.Errorf("media: reconcile: %w", err)
		}
		d.Actual += d.Derived
		d.Delta = d.Actual - d.Recorded
		if fix && d.Delta != 0 {
			if err := s.Ledger.Add(ctx, subject(userID), quota.ResourceStorage, d.Delta); err != nil {
				return fmt.Errorf("media: reconcile: correct usage: %w", err)
			}
			d.Fixed = true
		}
		return nil
	})
	if err != nil {
		return Drift{}, err
	}
	if l, ok := s.Blobs.(storage.Lister); ok {
		d.Listed = true
		seen := 0
		for info, err := range l.List(ctx, subject(userID)+"/") {
			if err != nil {
				return Drift{}, fmt.Errorf("media: reconcile: list objects: %w", err)
			}
			if _, ok := sizes[info.Key]; ok {
				seen++
			} else if base, thumb := strings.CutSuffix(info.Key, ThumbnailKey("")); thumb && hasKey(sizes, base) {
				// an item's thumbnail, charged with its text (Derived)
			} else {
				d.Orphans++
				d.OrphanBytes += info.Size
			}
		}
		d.Missing = len(sizes) - seen
	}
	return d, nil
}

// derivedOf sums the stored text and chunk bytes of every item of the user, trashed ones
// included.
func (s *Service) derivedOf(ctx context.Context, userID int64) (int64, error) {
	if s.Processing == nil {
		return 0, nil
	}
	var n int64
	for _, list := range []func(context.Context, int64, ListOptions) ([]Item, int, error){s.Store.List, s.Store.ListTrash} {
		for page := 1; ; page++ {
			items, _, err := list(ctx, userID, ListOptions{Page: page, PerPage: MaxPerPage})
			if err != nil {
				return 0, err
			}
			for i := range items {
				b, err := derivedBytes(ctx, s.Processing, &items[i])
				if err != nil {
					return 0, err
				}
				n += b
			}
			if len(items) < MaxPerPage {
				break
			}
		}
	}
	return n, nil
}

func hasKey(m map[string]int64, k string) bool {
	_, ok := m[k]
	return ok
}
