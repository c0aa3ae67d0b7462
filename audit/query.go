package audit

import (
	"context"
	"iter"
	"time"
)

// Filter selects stored audit entries. Zero fields do not filter.
type Filter struct {
	Actions      []string  // exact catalogue names (after Normalize / Expand); any of them
	ActionPrefix string    // also match stored actions starting with this (from a '*' pattern)
	UserID       int64     // acting user
	Since, Until time.Time // created_at >= Since, < Until
	TargetType   string
	TargetID     string
	Success      *bool
	Limit        int // page size for Query: 1..1000
	Offset       int
}

// Entry is one stored audit row: a chain record plus its database id.
type Entry struct {
	ID int64 `json:"id"`
	Record
}

// Log is the queryable, verifiable store behind the audit API and `tldwd audit`. Safe for
// concurrent use.
type Log interface {
	Sink
	// Query returns one page of entries matching f, newest first, and the total count.
	Query(ctx context.Context, f Filter) ([]Entry, int, error)
	// Scan yields every entry matching f, newest first, streaming in constant memory
	// (f.Limit > 0 caps the count). Stop ranging to stop the scan.
	Scan(ctx context.Context, f Filter) iter.Seq2[Entry, error]
	// Head returns the newest chain position (Seq 0 and Genesis when empty).
	Head(ctx context.Context) (seq int64, hash string, err error)
	// Verify recomputes the chain from the newest purge checkpoint, checking the tail against
	// last (the newest head checkpoint known outside the database; nil = none).
	Verify(ctx context.Context, last *Checkpoint) (Report, error)
	// Purge removes entries created before cutoff (oldest first, never breaking the chain)
	// and stores a purge checkpoint signed with key. It returns how many rows it removed.
	Purge(ctx context.Context, cutoff time.Time, key []byte) (int64, error)
	// SaveCheckpoint stores a signed head checkpoint; LastCheckpoint returns the newest of
	// kind ("head" or "purge"), nil when none.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	LastCheckpoint(ctx context.Context, kind string) (*Checkpoint, error)
}
