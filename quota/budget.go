package quota

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The daily budgets of media processing (MEDIA_OCR_PAGES_PER_DAY,
// MEDIA_URL_FETCH_BYTES_PER_DAY, the audio tiers' minutes).
const (
	ResourceOCRPages      Resource = "ocr_pages"
	ResourceURLFetchBytes Resource = "url_fetch_bytes"
	// ResourceTranscriptionSeconds is audio transcribed (the audio tiers' daily minutes).
	ResourceTranscriptionSeconds Resource = "transcription_seconds"
)

// ResourceAudioStreams counts live transcription streams held at once (a reservation per
// open stream, its limit the user's tier's concurrent streams).
const ResourceAudioStreams Resource = "audio_streams"

// Budget is a per-subject allowance of a resource per UTC day, kept in a Ledger: each day is
// a resource of its own ("ocr_pages@2026-12-02") whose limit is PerDay, so the ledger's
// conditional reservation enforces it race-free across replicas and a new day starts empty.
// PerDay ≤ 0 is unlimited (nothing is recorded). Safe for concurrent use.
type Budget struct {
	Ledger   Ledger
	Resource Resource
	PerDay   int64
	Now      func() time.Time // nil: time.Now
}

// Unlimited reports whether the budget has no limit.
func (b Budget) Unlimited() bool { return b.PerDay <= 0 || b.Ledger == nil }

// Day returns the ledger resource of the budget on the UTC day of t.
func (b Budget) Day(t time.Time) Resource {
	return Resource(fmt.Sprintf("%s@%s", b.Resource, t.UTC().Format(time.DateOnly)))
}

func (b Budget) today() Resource {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	return b.Day(now())
}

// Remaining returns what is left of today's allowance (-1 when unlimited).
func (b Budget) Remaining(ctx context.Context, subject string) (int64, error) {
	if b.Unlimited() {
		return -1, nil
	}
	day := b.today()
	us, err := b.Ledger.Usage(ctx, subject)
	if err != nil {
		return 0, err
	}
	for _, u := range us {
		if u.Resource == day {
			return max(0, b.PerDay-u.Used-u.Reserved), nil
		}
	}
	return b.PerDay, nil
}

// Reserve holds n units of today's allowance until ttl passes (commit or release it through
// the Ledger). ErrExceeded when they do not fit. When the budget is unlimited it returns a
// zero Reservation, which Commit and Release of the budget ignore.
func (b Budget) Reserve(ctx context.Context, subject string, n int64, ttl time.Duration) (Reservation, error) {
	if b.Unlimited() {
		return Reservation{}, nil
	}
	day := b.today()
	if err := b.Ledger.SetLimit(ctx, subject, day, b.PerDay); err != nil {
		return Reservation{}, err
	}
	return b.Ledger.Reserve(ctx, subject, day, n, ttl)
}

// Commit charges actual units for res (Ledger.Add when it has expired meanwhile).
func (b Budget) Commit(ctx context.Context, res Reservation, actual int64) error {
	if res.ID == "" {
		return nil
	}
	err := b.Ledger.Commit(ctx, res, actual)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	return b.Ledger.Add(ctx, res.Subject, res.Resource, actual)
}

// Release drops res without usage.
func (b Budget) Release(ctx context.Context, res Reservation) error {
	if res.ID == "" {
		return nil
	}
	return b.Ledger.Release(ctx, res)
}
