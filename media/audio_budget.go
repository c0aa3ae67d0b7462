package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
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

// Commit charges d (whole seconds, rounded up; 0 charges nothing) for res.
func (b *AudioBudget) Commit(ctx context.Context, res quota.Reservation, d time.Duration) error {
	if b.unlimited() {
		return nil
	}
	if err := (quota.Budget{Ledger: b.Ledger}).Commit(ctx, res, ceilSeconds(d)); err != nil {
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

// seconds is d in whole seconds, rounded up (at least 1): a reservation of nothing would
// fit in a used-up budget.
func seconds(d time.Duration) int64 { return max(1, ceilSeconds(d)) }

// ceilSeconds is d in whole seconds, rounded up (0 for d ≤ 0).
func ceilSeconds(d time.Duration) int64 { return max(0, int64((d+time.Second-1)/time.Second)) }

// maxTierStreams bounds a tier's concurrent streams in AUDIO_TIER_LIMITS_JSON.
const maxTierStreams = 1_000_000

// tierName is what a tier may be called: it is stored on users and typed by admins.
var tierName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ParseAudioTiers reads AUDIO_TIER_LIMITS_JSON, tldw's format: an object of tier name →
// {"daily_minutes": N, "concurrent_streams": N}, which overrides the fields it gives of
// DefaultAudioTiers' tiers and adds new tiers (which must give both). daily_minutes is a
// whole number ≥ 0, or -1 or null for unlimited; concurrent_streams a whole number ≥ 0.
// It returns the tiers in effect: DefaultAudioTiers with the overrides; an empty s gives
// DefaultAudioTiers. Bad JSON, unknown fields (also tldw's concurrent_jobs and
// max_file_size_mb, which tldw-go has no per-tier limit for), bad names and out-of-range
// values are ErrInvalid errors naming the tier and field.
func ParseAudioTiers(s string) (map[string]AudioTier, error) {
	tiers := DefaultAudioTiers()
	if strings.TrimSpace(s) == "" {
		return tiers, nil
	}
	var raw map[string]json.RawMessage
	if err := strictJSON(s, &raw); err != nil {
		return nil, fmt.Errorf("%w: AUDIO_TIER_LIMITS_JSON: want a JSON object of tier name → limits: %v", ErrInvalid, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: AUDIO_TIER_LIMITS_JSON: want a JSON object, not null", ErrInvalid)
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		t, err := parseTier(name, raw[name], tiers)
		if err != nil {
			return nil, fmt.Errorf("%w: AUDIO_TIER_LIMITS_JSON: tier %q: %v", ErrInvalid, name, err)
		}
		tiers[name] = t
	}
	return tiers, nil
}

// parseTier reads one tier's limits over its defaults (in tiers, when it has them).
func parseTier(name string, b json.RawMessage, tiers map[string]AudioTier) (AudioTier, error) {
	if !tierName.MatchString(name) {
		return AudioTier{}, errors.New("a tier name is 1-64 letters, digits, '_', '.' or '-'")
	}
	var v struct {
		DailyMinutes      tierField `json:"daily_minutes"`
		ConcurrentStreams tierField `json:"concurrent_streams"`
	}
	if err := strictJSON(string(b), &v); err != nil {
		for _, f := range []string{"concurrent_jobs", "max_file_size_mb"} {
			if strings.Contains(err.Error(), `"`+f+`"`) {
				return AudioTier{}, fmt.Errorf("%s is tldw's, but tldw-go has no such per-tier limit; remove it", f)
			}
		}
		return AudioTier{}, err
	}
	t, known := tiers[name]
	if !known && (!v.DailyMinutes.set || !v.ConcurrentStreams.set) {
		return AudioTier{}, errors.New("a new tier needs daily_minutes and concurrent_streams")
	}
	if f := v.DailyMinutes; f.set {
		m, ok := f.whole()
		if f.null {
			m, ok = -1, true
		}
		if !ok || m < -1 {
			return AudioTier{}, fmt.Errorf("daily_minutes %s: want a whole number ≥ 0, or -1 or null for unlimited", f.raw)
		}
		t.MinutesPerDay = m
	}
	if f := v.ConcurrentStreams; f.set {
		n, ok := f.whole()
		if !ok || n < 0 || n > maxTierStreams {
			return AudioTier{}, fmt.Errorf("concurrent_streams %s: want a whole number from 0 to %d", f.raw, maxTierStreams)
		}
		t.Streams = int(n)
	}
	return t, nil
}

// strictJSON decodes exactly one JSON value from s into v, refusing unknown fields.
func strictJSON(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// tierField is one limit of a tier as given: absent, null or a JSON value.
type tierField struct {
	set, null bool
	raw       string
}

// UnmarshalJSON records the value (also null, which it is called for too).
func (f *tierField) UnmarshalJSON(b []byte) error {
	f.set, f.null, f.raw = true, string(b) == "null", string(b)
	return nil
}

// whole returns the value as an int64 when it is a JSON number that is a whole number
// ("30", or "30.0" as tldw writes minutes) within ±2^53.
func (f tierField) whole() (int64, bool) {
	n := json.Number(f.raw)
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	v, err := n.Float64()
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		return 0, false
	}
	return int64(v), true
}
