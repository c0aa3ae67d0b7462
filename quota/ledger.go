package quota

import (
	"context"
	"fmt"
	"time"
)

// Resource names what a Ledger counts.
type Resource string

// ResourceStorage is stored bytes (media files and everything derived from them).
const ResourceStorage Resource = "storage_bytes"

// Reservation holds n units of a resource for a subject until it is committed or released,
// or until it expires (a crashed process's reservations are swept).
type Reservation struct {
	ID        string
	Subject   string // a user id as a decimal string
	Resource  Resource
	Amount    int64
	ExpiresAt time.Time
}

// Usage is a subject's consumption of one resource.
type Usage struct {
	Resource Resource
	Used     int64 // committed
	Reserved int64 // held by live reservations
	Limit    int64 // -1 = unlimited
}

// Ledger accounts for consumption race-free across replicas: Reserve succeeds only while
// used + reserved + n ≤ limit, in one conditional statement. Safe for concurrent use.
type Ledger interface {
	// Reserve holds n units until ttl passes; ErrExceeded when they do not fit.
	Reserve(ctx context.Context, subject string, r Resource, n int64, ttl time.Duration) (Reservation, error)
	// Commit turns the reservation into usage of actual units (≤ the reserved amount or
	// not: the caller measured it) and drops the reservation. ErrNotFound when it is gone.
	Commit(ctx context.Context, res Reservation, actual int64) error
	// Release drops the reservation without usage; nil when it is already gone.
	Release(ctx context.Context, res Reservation) error
	// Extend adds n units to a live reservation while used + reserved + n ≤ limit and
	// returns it with the new Amount; ErrExceeded when they do not fit (the reservation is
	// unchanged), ErrNotFound when it is gone. Uploads of unknown size reserve in steps.
	Extend(ctx context.Context, res Reservation, n int64) (Reservation, error)
	// Locked runs fn while the subject's usage of r is locked against every other Locked
	// call for it, on every replica, and returns fn's error. A caller that changes what
	// usage is computed from (an item row) together with the usage itself does both inside
	// Locked, so that a recalculation, also inside Locked, never sees one without the
	// other. The SQL ledger runs fn in one transaction holding the usage row: ledger and
	// store calls made with fn's ctx on the same database join it and commit or roll back
	// together; fn must not write to that database any other way.
	Locked(ctx context.Context, subject string, r Resource, fn func(ctx context.Context) error) error
	// Add changes committed usage by delta (negative frees), for deletions and
	// reconciliation; usage never goes below zero.
	Add(ctx context.Context, subject string, r Resource, delta int64) error
	// Usage reports the subject's resources.
	Usage(ctx context.Context, subject string) ([]Usage, error)
	// SetLimit sets the subject's limit (-1 = unlimited).
	SetLimit(ctx context.Context, subject string, r Resource, limit int64) error
	// Sweep releases reservations that expired before now and returns how many.
	Sweep(ctx context.Context, now time.Time) (int, error)
}

// CheckKey returns an ErrInvalid-wrapped error for an empty subject or resource. Ledgers
// check their arguments with CheckKey, CheckAmount and CheckReserve, so every one refuses
// the same inputs the same way.
func CheckKey(subject string, r Resource) error {
	switch {
	case subject == "":
		return fmt.Errorf("%w: empty subject", ErrInvalid)
	case r == "":
		return fmt.Errorf("%w: empty resource", ErrInvalid)
	}
	return nil
}

// CheckAmount returns an ErrInvalid-wrapped error for a negative amount.
func CheckAmount(n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: negative amount %d", ErrInvalid, n)
	}
	return nil
}

// CheckReserve checks Reserve's arguments: CheckKey, CheckAmount and a positive ttl.
func CheckReserve(subject string, r Resource, n int64, ttl time.Duration) error {
	if err := CheckKey(subject, r); err != nil {
		return err
	}
	if err := CheckAmount(n); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: reservation ttl must be positive", ErrInvalid)
	}
	return nil
}
