package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
)

// AudioTier is one tier of transcription allowance (tldw's audio tiers): minutes of audio
// transcribed per UTC day and live streams at once. AUDIO_TIER_LIMITS_JSON writes them as
// {"free":{"daily_minutes":30,"concurrent_streams":1}, ...}.
type AudioTier struct {
	MinutesPerDay int64 `json:"daily_minutes"`      // -1: unlimited
	Streams       int   `json:"concurrent_streams"` // live streams at once
}

// The audio tiers every server has (tldw's), and the tier of users without one.
const (
	TierFree     = "free"
	TierStandard = "standard"
	TierPremium  = "premium"
)

// DefaultAudioTiers returns tldw's tiers: free 30 min and 1 stream, standard 300 and 3,
// premium unlimited and 10.
func DefaultAudioTiers() map[string]AudioTier {
	return map[string]AudioTier{
		TierFree:     {MinutesPerDay: 30, Streams: 1},
		TierStandard: {MinutesPerDay: 300, Streams: 3},
		TierPremium:  {MinutesPerDay: -1, Streams: 10},
	}
}

// The stable codes of the audio budgets (BudgetError.Code).
const (
	CodeTranscriptionMinutes = "transcription_minutes_per_day_exceeded"
	CodeAudioStreams         = "audio_streams_exceeded"
)

// AudioBudget keeps each user's transcription allowance by tier: batch jobs,
// /audio/transcriptions and live streams all draw on it. Seconds of audio are counted in
// the Ledger per UTC day (race-free across replicas); streams hold a reservation each while
// open. A nil *AudioBudget, or one without a Ledger, is unlimited. Set the fields before the
// first call; safe for concurrent use.
type AudioBudget struct {
	Ledger quota.Ledger
	// Tiers by name; nil means DefaultAudioTiers.
	Tiers map[string]AudioTier
	// DefaultTier is the tier of users without one (DEFAULT_AUDIO_TIER); "" means TierFree.
	DefaultTier string
	// TierOf returns a user's tier name ("" = DefaultTier); nil gives everyone DefaultTier.
	TierOf func(ctx context.Context, userID int64) (string, error)
	// StreamTTL is how long a stream's slot outlives a crashed server; it must exceed the
	// longest stream. 0 means 2 h.
	StreamTTL time.Duration
	Audit     audit.Sink // quota_exceeded events; nil drops them
	Now       func() time.Time
	Logger    *slog.Logger
}

// Tier returns the name and allowance of userID's tier (an unknown name is the default's).
func (b *AudioBudget) Tier(ctx context.Context, userID int64) (string, AudioTier, error) {
	tiers := DefaultAudioTiers()
	if b != nil && b.Tiers != nil {
		tiers = b.Tiers
	}
	def := TierFree
	if b != nil && b.DefaultTier != "" {
		def = b.DefaultTier
	}
	name := ""
	if b != nil && b.TierOf != nil {
		n, err := b.TierOf(ctx, userID)
		if err != nil {
			return "", AudioTier{}, fmt.Errorf("media: read audio tier: %w", err)
		}
		name = n
	}
	if _, ok := tiers[name]; !ok {
		name = def
	}
	t, ok := tiers[name]
	if !ok {
		t = AudioTier{MinutesPerDay: -1, Streams: 1 << 20}
	}
	return name, t, nil
}

func (b *AudioBudget) unlimited() bool { return b == nil || b.Ledger == nil }

func (b *AudioBudget) minutes(t AudioTier) quota.Budget {
	if b.unlimited() || t.MinutesPerDay < 0 {
		return quota.Budget{}
	}
	// PerDay ≤ 0 is unlimited to quota.Budget; a tier of 0 minutes allows nothing, so it
	// is kept as one second that Reserve below never grants.
	return quota.Budget{Ledger: b.Ledger, Resource: quota.ResourceTranscriptionSeconds,
		PerDay: max(t.MinutesPerDay*60, 1), Now: b.Now}
}

// Remaining returns what is left of userID's minutes today; -1 when unlimited.
func (b *AudioBudget) Remaining(ctx context.Context, userID int64) (time.Duration, error) {
	_, t, err := b.Tier(ctx, userID)
	if err != nil {
		return 0, err
	}
	mb := b.minutes(t)
	if mb.Unlimited() {
		return -1, nil
	}
	left, err := mb.Remaining(ctx, subject(userID))
	if err != nil {
		return 0, fmt.Errorf("media: read transcription budget: %w", err)
	}
	if t.MinutesPerDay == 0 {
		left = 0
	}
	return time.Duration(left) * time.Second, nil
}

// Reserve holds d of userID's minutes (rounded up to whole seconds) until Commit or
// Release; a *BudgetError with CodeTranscriptionMinutes (audited) when they do not fit.
func (b *AudioBudget) Reserve(ctx context.Context, userID int64, d time.Duration) (quota.Reservation, error) {
	_, t, err := b.Tier(ctx, userID)
	if err != nil {
		return quota.Reservation{}, err
	}
	mb := b.minutes(t)
	if mb.Unlimited() {
		return quota.Reservation{}, nil
	}
	n := seconds(d)
	var res quota.Reservation
	if t.MinutesPerDay == 0 {
		err = quota.ErrExceeded
	} else {
		res, err = mb.Reserve(ctx, subject(userID), n, DefaultReservationTTL)
	}
	if errors.Is(err, quota.ErrExceeded) {
		left, _ := b.Remaining(ctx, userID)
		return quota.Reservation{}, b.exceeded(ctx, userID, mb, CodeTranscriptionMinutes, n, int64(max(left, 0)/time.Second))
	}
	if err != nil {
		return quota.Reservation{}, fmt.Errorf("media: reserve transcription budget: %w", err)
	}
	return res, nil
}

// Commit charges d (whole seconds, rounded up) for res.
func (b *AudioBudget) Commit(ctx context.Context, res quota.Reservation, d time.Duration) error {
	if b.unlimited() {
		return nil
	}
	if err := (quota.Budget{Ledger: b.Ledger}).Commit(ctx, res, seconds(d)); err != nil {
		return fmt.Errorf("media: charge transcription budget: %w", err)
	}
	return nil
}

// Release drops res unused.
func (b *AudioBudget) Release(ctx context.Context, res quota.Reservation) error {
	if b.unlimited() {
		return nil
	}
	return (quota.Budget{Ledger: b.Ledger}).Release(ctx, res)
}

// OpenStream takes one of userID's concurrent stream slots; release gives it back (it is
// also freed after StreamTTL should the server die). A *BudgetError with CodeAudioStreams
// (audited) when all are taken.
func (b *AudioBudget) OpenStream(ctx context.Context, userID int64) (release func(), err error) {
	if b.unlimited() {
		return func() {}, nil
	}
	_, t, err := b.Tier(ctx, userID)
	if err != nil {
		return nil, err
	}
	sub := subject(userID)
	if err := b.Ledger.SetLimit(ctx, sub, quota.ResourceAudioStreams, int64(t.Streams)); err != nil {
		return nil, fmt.Errorf("media: stream limit: %w", err)
	}
	ttl := b.StreamTTL
	if ttl <= 0 {
		ttl = 2 * time.Hour
	}
	res, err := b.Ledger.Reserve(ctx, sub, quota.ResourceAudioStreams, 1, ttl)
	if errors.Is(err, quota.ErrExceeded) {
		sb := quota.Budget{Resource: quota.ResourceAudioStreams, PerDay: int64(t.Streams)}
		return nil, b.exceeded(ctx, userID, sb, CodeAudioStreams, 1, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("media: open stream: %w", err)
	}
	return func() {
		if err := b.Ledger.Release(context.WithoutCancel(ctx), res); err != nil && !errors.Is(err, quota.ErrNotFound) {
			b.log().ErrorContext(ctx, "media: release stream slot", "user", userID, "error", err)
		}
	}, nil
}

func (b *AudioBudget) exceeded(ctx context.Context, userID int64, qb quota.Budget, code string, requested, left int64) error {
	if b.Audit != nil {
		e := budgetEvent(qb, code, requested, left)
		e.UserID, e.TargetID = userID, subject(userID)
		e.Time = time.Now().UTC()
		if b.Now != nil {
			e.Time = b.Now().UTC()
		}
		if err := b.Audit.Write(ctx, e); err != nil {
			b.log().ErrorContext(ctx, "media: audit write failed", "action", e.Action, "error", err)
		}
	}
	return budgetError(qb, code, left)
}

func (b *AudioBudget) log() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// seconds is d in whole seconds, rounded up (at least 1).
func seconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
