package quotatest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/quota"
)

var _ quota.Ledger = (*MemLedger)(nil)

// MemLedger is a quota.Ledger kept in memory, with the semantics of the SQL ledger except
// that it knows no users: a subject without a limit is unlimited until SetLimit. Set Now
// before first use to control Reserve's clock (nil means time.Now). Every method honours a
// done ctx by returning ctx.Err(). Safe for concurrent use.
type MemLedger struct {
	// Now is the clock Reserve computes ExpiresAt from; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	usage map[memKey]*quota.Usage
	res   map[string]quota.Reservation
	locks sync.Map // memKey → *sync.Mutex, for Locked
}

type memKey struct {
	subject  string
	resource quota.Resource
}

// NewMemory returns an empty MemLedger on the real clock. The zero MemLedger is ready to
// use as well.
func NewMemory() *MemLedger { return &MemLedger{} }

func (m *MemLedger) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// row returns the usage row of k, creating an unlimited one when create is set (nil
// otherwise). The caller holds mu.
func (m *MemLedger) row(k memKey, create bool) *quota.Usage {
	if u, ok := m.usage[k]; ok || !create {
		return u
	}
	if m.usage == nil {
		m.usage = make(map[memKey]*quota.Usage)
	}
	u := &quota.Usage{Resource: k.resource, Limit: -1}
	m.usage[k] = u
	return u
}

// Reserve holds n units for ttl when used + reserved + n ≤ limit. Errors: quota.ErrInvalid
// for an empty subject or resource, a negative n or a non-positive ttl; quota.ErrExceeded
// when the units do not fit (nothing is reserved).
func (m *MemLedger) Reserve(ctx context.Context, subject string, r quota.Resource, n int64, ttl time.Duration) (quota.Reservation, error) {
	if err := quota.CheckReserve(subject, r, n, ttl); err != nil {
		return quota.Reservation{}, err
	}
	if err := ctx.Err(); err != nil {
		return quota.Reservation{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey{subject, r}
	if u := m.row(k, false); u != nil && u.Limit >= 0 && n > u.Limit-u.Used-u.Reserved {
		return quota.Reservation{}, fmt.Errorf("%w: %s %s", quota.ErrExceeded, subject, r)
	}
	m.row(k, true).Reserved += n
	res := quota.Reservation{ID: uuid.NewString(), Subject: subject, Resource: r, Amount: n, ExpiresAt: m.now().Add(ttl)}
	if m.res == nil {
		m.res = make(map[string]quota.Reservation)
	}
	m.res[res.ID] = res
	return res, nil
}

// take removes and returns the live reservation matching res's ID, Subject and Resource.
// The caller holds mu.
func (m *MemLedger) take(res quota.Reservation) (quota.Reservation, bool) {
	got, ok := m.res[res.ID]
	if !ok || got.Subject != res.Subject || got.Resource != res.Resource {
		return quota.Reservation{}, false
	}
	delete(m.res, res.ID)
	m.row(memKey{got.Subject, got.Resource}, true).Reserved -= got.Amount
	return got, true
}

// Commit turns the reservation into usage of actual units. Errors: quota.ErrInvalid for a
// negative actual; quota.ErrNotFound when no live reservation has res's ID, Subject and
// Resource (committed, released or swept).
func (m *MemLedger) Commit(ctx context.Context, res quota.Reservation, actual int64) error {
	if err := quota.CheckAmount(actual); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	got, ok := m.take(res)
	if !ok {
		return fmt.Errorf("%w: %q", quota.ErrNotFound, res.ID)
	}
	m.row(memKey{got.Subject, got.Resource}, true).Used += actual
	return nil
}

// Extend adds n units to a live reservation when used + reserved + n ≤ limit. Errors:
// quota.ErrInvalid for a negative n; quota.ErrNotFound when the reservation is gone;
// quota.ErrExceeded when the units do not fit (nothing changes).
func (m *MemLedger) Extend(ctx context.Context, res quota.Reservation, n int64) (quota.Reservation, error) {
	if err := quota.CheckAmount(n); err != nil {
		return quota.Reservation{}, err
	}
	if err := ctx.Err(); err != nil {
		return quota.Reservation{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	got, ok := m.res[res.ID]
	if !ok || got.Subject != res.Subject || got.Resource != res.Resource {
		return quota.Reservation{}, fmt.Errorf("%w: %q", quota.ErrNotFound, res.ID)
	}
	u := m.row(memKey{got.Subject, got.Resource}, true)
	if u.Limit >= 0 && n > u.Limit-u.Used-u.Reserved {
		return quota.Reservation{}, fmt.Errorf("%w: %s of %q", quota.ErrExceeded, got.Resource, got.Subject)
	}
	u.Reserved += n
	got.Amount += n
	m.res[got.ID] = got
	return got, nil
}

// Locked runs fn holding a per-subject-and-resource mutex that only Locked takes, so fn may
// call the other methods. Errors: quota.ErrInvalid for an empty subject or resource, else
// fn's.
func (m *MemLedger) Locked(ctx context.Context, subject string, r quota.Resource, fn func(ctx context.Context) error) error {
	if subject == "" || r == "" {
		return fmt.Errorf("%w: empty subject or resource", quota.ErrInvalid)
	}
	mu, _ := m.locks.LoadOrStore(memKey{subject, r}, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	return fn(ctx)
}

// Release drops the reservation without usage; it returns nil when it is already gone.
func (m *MemLedger) Release(ctx context.Context, res quota.Reservation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.take(res)
	return nil
}

// Add changes committed usage by delta, never below zero. Errors: quota.ErrInvalid for an
// empty subject or resource.
func (m *MemLedger) Add(ctx context.Context, subject string, r quota.Resource, delta int64) error {
	if err := quota.CheckKey(subject, r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.row(memKey{subject, r}, true)
	u.Used = max(0, u.Used+delta)
	return nil
}

// Usage reports the subject's resources sorted by name; none when the subject was never
// seen. Errors: quota.ErrInvalid for an empty subject.
func (m *MemLedger) Usage(ctx context.Context, subject string) ([]quota.Usage, error) {
	if subject == "" {
		return nil, fmt.Errorf("%w: empty subject", quota.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []quota.Usage
	for k, u := range m.usage {
		if k.subject == subject {
			out = append(out, *u)
		}
	}
	slices.SortFunc(out, func(a, b quota.Usage) int { return cmp.Compare(a.Resource, b.Resource) })
	return out, nil
}

// SetLimit sets the subject's limit (-1 = unlimited); usage above a lowered limit stays,
// but nothing more can be reserved. Errors: quota.ErrInvalid for an empty subject or
// resource or a limit below -1.
func (m *MemLedger) SetLimit(ctx context.Context, subject string, r quota.Resource, limit int64) error {
	if err := quota.CheckKey(subject, r); err != nil {
		return err
	}
	if limit < -1 {
		return fmt.Errorf("%w: limit %d (want -1 for unlimited or ≥ 0)", quota.ErrInvalid, limit)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.row(memKey{subject, r}, true).Limit = limit
	return nil
}

// Sweep releases the reservations whose ExpiresAt is before now and returns how many.
func (m *MemLedger) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.res {
		if r.ExpiresAt.Before(now) {
			m.take(r)
			n++
		}
	}
	return n, nil
}
