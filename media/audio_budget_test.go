package media_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// budgetDay is the fixed clock of the audio budget tests.
var budgetDay = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// ledgers runs fn on the in-memory ledger, the SQL ledger on SQLite and on PostgreSQL, each
// with the clock now.
func ledgers(t *testing.T, fn func(t *testing.T, l quota.Ledger, now func() time.Time)) {
	now := func() time.Time { return budgetDay }
	t.Run("memory", func(t *testing.T) {
		fn(t, &quotatest.MemLedger{Now: now}, now)
	})
	t.Run("sqlite", func(t *testing.T) {
		db := migratedDB(t, "sqlite:"+filepath.Join(t.TempDir(), "budget.db"))
		fn(t, db.Ledger(sqlstore.LedgerOptions{Now: now}), now)
	})
	t.Run("postgres", func(t *testing.T) {
		db := migratedDB(t, testenv.Postgres(t))
		fn(t, db.Ledger(sqlstore.LedgerOptions{Now: now}), now)
	})
}

func migratedDB(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// tierMap is a TierOf from a fixed map of user id → tier name.
func tierMap(m map[int64]string) func(context.Context, int64) (string, error) {
	return func(_ context.Context, id int64) (string, error) { return m[id], nil }
}

// Users of the budget tests, by tier.
const (
	userNone     int64 = 1 // no tier: the default
	userFree     int64 = 2
	userStandard int64 = 3
	userPremium  int64 = 4
	userBogus    int64 = 5 // a tier no longer configured
	userZero     int64 = 6 // a 0-minute tier
)

var testTiers = map[int64]string{userFree: media.TierFree, userStandard: media.TierStandard,
	userPremium: media.TierPremium, userBogus: "gold", userZero: "none"}

func TestAudioBudgetTiers(t *testing.T) {
	ctx := context.Background()
	def := media.DefaultAudioTiers()
	want := map[string]media.AudioTier{"free": {MinutesPerDay: 30, Streams: 1},
		"standard": {MinutesPerDay: 300, Streams: 3}, "premium": {MinutesPerDay: -1, Streams: 10}}
	if !maps.Equal(def, want) {
		t.Errorf("DefaultAudioTiers = %v, want %v", def, want)
	}
	if got := slices.Sorted(maps.Keys(def)); !slices.Equal(got, auth.DefaultAudioTiers()) {
		t.Errorf("media's tiers %v, auth.DefaultAudioTiers() %v: they must agree", got, auth.DefaultAudioTiers())
	}

	for _, tt := range []struct {
		name     string
		b        *media.AudioBudget
		user     int64
		wantTier string
	}{
		{"nil budget", nil, userStandard, media.TierFree},
		{"no TierOf", &media.AudioBudget{}, userStandard, media.TierFree},
		{"no tier", &media.AudioBudget{TierOf: tierMap(testTiers)}, userNone, media.TierFree},
		{"standard", &media.AudioBudget{TierOf: tierMap(testTiers)}, userStandard, media.TierStandard},
		{"premium", &media.AudioBudget{TierOf: tierMap(testTiers)}, userPremium, media.TierPremium},
		{"unknown tier is the default", &media.AudioBudget{TierOf: tierMap(testTiers)}, userBogus, media.TierFree},
		{"DEFAULT_AUDIO_TIER", &media.AudioBudget{TierOf: tierMap(testTiers), DefaultTier: media.TierStandard}, userNone, media.TierStandard},
		{"unknown tier, DEFAULT_AUDIO_TIER", &media.AudioBudget{TierOf: tierMap(testTiers), DefaultTier: media.TierPremium}, userBogus, media.TierPremium},
		{"configured tiers", &media.AudioBudget{TierOf: tierMap(testTiers),
			Tiers: map[string]media.AudioTier{"free": {MinutesPerDay: 5, Streams: 2}, "gold": {MinutesPerDay: 1000, Streams: 4}}}, userBogus, "gold"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name, tier, err := tt.b.Tier(ctx, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			wantT := def[tt.wantTier]
			if tt.b != nil && tt.b.Tiers != nil {
				wantT = tt.b.Tiers[tt.wantTier]
			}
			if name != tt.wantTier || tier != wantT {
				t.Errorf("Tier = %q %+v, want %q %+v", name, tier, tt.wantTier, wantT)
			}
		})
	}

	// The root plugs the accounts service in as TierOf.
	var accounts *auth.Service
	_ = media.AudioBudget{TierOf: accounts.AudioTier}

	broken := errors.New("users table gone")
	b := &media.AudioBudget{Ledger: quotatest.NewMemory(), TierOf: func(context.Context, int64) (string, error) { return "", broken }}
	if _, _, err := b.Tier(ctx, userFree); !errors.Is(err, broken) {
		t.Errorf("Tier with a failing TierOf = %v, want it wrapped", err)
	}
	if _, err := b.Reserve(ctx, userFree, time.Minute); !errors.Is(err, broken) || errors.Is(err, quota.ErrExceeded) {
		t.Errorf("Reserve with a failing TierOf = %v, want the lookup error (not a quota refusal)", err)
	}
	if _, err := b.OpenStream(ctx, userFree); !errors.Is(err, broken) {
		t.Errorf("OpenStream with a failing TierOf = %v, want the lookup error", err)
	}
}

// newBudget is an AudioBudget on l for testTiers ("none" allows 0 minutes), auditing to a.
func newBudget(l quota.Ledger, now func() time.Time, a audit.Sink) *media.AudioBudget {
	tiers := media.DefaultAudioTiers()
	tiers["none"] = media.AudioTier{MinutesPerDay: 0, Streams: 1}
	return &media.AudioBudget{Ledger: l, Tiers: tiers, TierOf: tierMap(testTiers), Audit: a, Now: now}
}

func remaining(t *testing.T, b *media.AudioBudget, user int64) time.Duration {
	t.Helper()
	left, err := b.Remaining(context.Background(), user)
	if err != nil {
		t.Fatalf("Remaining: %v", err)
	}
	return left
}

// wantBudgetError checks that err is the audio budget's refusal with code.
func wantBudgetError(t *testing.T, err error, code string, left int64) {
	t.Helper()
	var be *media.BudgetError
	if !errors.As(err, &be) || be.Code != code || be.Left != left {
		t.Fatalf("err = %v, want a *BudgetError %s with %d left", err, code, left)
	}
	if !errors.Is(err, media.ErrBudgetExceeded) || !errors.Is(err, quota.ErrExceeded) {
		t.Errorf("%v does not match ErrBudgetExceeded and quota.ErrExceeded", err)
	}
}

func TestAudioBudgetMinutes(t *testing.T) {
	ledgers(t, func(t *testing.T, l quota.Ledger, now func() time.Time) {
		ctx := context.Background()
		rec := &audittest.Memory{}
		b := newBudget(l, now, rec)
		if got := remaining(t, b, userFree); got != 30*time.Minute {
			t.Fatalf("free Remaining = %v, want 30m", got)
		}

		// Reserve holds, Commit charges what was used, Release frees.
		r1, err := b.Reserve(ctx, userFree, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got := remaining(t, b, userFree); got != 20*time.Minute {
			t.Errorf("after reserving 10m: %v left, want 20m", got)
		}
		if err := b.Commit(ctx, r1, 4*time.Minute+500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if got := remaining(t, b, userFree); got != 30*time.Minute-241*time.Second {
			t.Errorf("after charging 4m0.5s of it: %v left, want %v (whole seconds rounded up)", got, 30*time.Minute-241*time.Second)
		}
		r2, err := b.Reserve(ctx, userFree, 20*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Release(ctx, r2); err != nil {
			t.Fatal(err)
		}
		if got := remaining(t, b, userFree); got != 30*time.Minute-241*time.Second {
			t.Errorf("after releasing a reservation: %v left, want %v", got, 30*time.Minute-241*time.Second)
		}
		// Commit of nothing charges nothing.
		r3, err := b.Reserve(ctx, userFree, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx, r3, 0); err != nil {
			t.Fatal(err)
		}
		if got := remaining(t, b, userFree); got != 30*time.Minute-241*time.Second {
			t.Errorf("after committing 0: %v left, want %v", got, 30*time.Minute-241*time.Second)
		}

		// What does not fit is refused, audited, and holds nothing.
		left := int64((30*time.Minute - 241*time.Second) / time.Second)
		_, err = b.Reserve(ctx, userFree, 26*time.Minute)
		wantBudgetError(t, err, media.CodeTranscriptionMinutes, left)
		evs := rec.Find(audit.QuotaExceeded)
		if len(evs) != 1 {
			t.Fatalf("audit events %v, want one quota_exceeded", rec.Actions())
		}
		e := evs[0]
		if e.UserID != userFree || e.TargetID != "2" || e.Success || e.Error != media.CodeTranscriptionMinutes ||
			e.Details["requested"] != int64(26*60) || e.Details["remaining"] != left ||
			e.Details["resource"] != string(quota.ResourceTranscriptionSeconds) || !e.Time.Equal(budgetDay) {
			t.Errorf("audit event = %+v", e)
		}
		if got := remaining(t, b, userFree); got != time.Duration(left)*time.Second {
			t.Errorf("a refused reservation left %v, want %v", got, time.Duration(left)*time.Second)
		}
		// Exactly what is left fits; then not a second more.
		r4, err := b.Reserve(ctx, userFree, time.Duration(left)*time.Second)
		if err != nil {
			t.Fatalf("reserving exactly what is left: %v", err)
		}
		_, err = b.Reserve(ctx, userFree, time.Millisecond)
		wantBudgetError(t, err, media.CodeTranscriptionMinutes, 0)
		if err := b.Commit(ctx, r4, time.Duration(left)*time.Second); err != nil {
			t.Fatal(err)
		}

		// Other users and tiers are separate: standard has its 300 minutes.
		if got := remaining(t, b, userStandard); got != 300*time.Minute {
			t.Errorf("standard Remaining = %v, want 300m", got)
		}
		if _, err := b.Reserve(ctx, userStandard, 299*time.Minute); err != nil {
			t.Errorf("standard reserving 299m: %v", err)
		}
		if _, err := b.Reserve(ctx, userNone, 30*time.Minute); err != nil {
			t.Errorf("a user of the default tier reserving 30m: %v", err)
		}
	})
}

func TestAudioBudgetNewDay(t *testing.T) {
	ctx := context.Background()
	var day atomic.Int64
	now := func() time.Time { return budgetDay.Add(time.Duration(day.Load()) * 24 * time.Hour) }
	b := newBudget(&quotatest.MemLedger{Now: now}, now, nil)
	res, err := b.Reserve(ctx, userFree, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, res, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(ctx, userFree, time.Second); !errors.Is(err, media.ErrBudgetExceeded) {
		t.Fatalf("after using the day's 30m: %v, want refused", err)
	}
	day.Store(1)
	if got := remaining(t, b, userFree); got != 30*time.Minute {
		t.Errorf("next UTC day: %v left, want 30m", got)
	}
	if _, err := b.Reserve(ctx, userFree, 30*time.Minute); err != nil {
		t.Errorf("next UTC day reserving 30m: %v", err)
	}
}

func TestAudioBudgetZeroAndUnlimited(t *testing.T) {
	ledgers(t, func(t *testing.T, l quota.Ledger, now func() time.Time) {
		ctx := context.Background()
		rec := &audittest.Memory{}
		b := newBudget(l, now, rec)

		// A tier of 0 minutes allows nothing, not even a second.
		if got := remaining(t, b, userZero); got != 0 {
			t.Errorf("0-minute tier Remaining = %v, want 0", got)
		}
		_, err := b.Reserve(ctx, userZero, time.Second)
		wantBudgetError(t, err, media.CodeTranscriptionMinutes, 0)
		if len(rec.Find(audit.QuotaExceeded)) != 1 {
			t.Errorf("audit = %v, want the refusal audited", rec.Actions())
		}

		// Premium is unlimited and records nothing.
		if got := remaining(t, b, userPremium); got != -1 {
			t.Errorf("premium Remaining = %v, want -1", got)
		}
		res, err := b.Reserve(ctx, userPremium, 100*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if res.ID != "" {
			t.Errorf("premium reservation %+v, want none", res)
		}
		if err := b.Commit(ctx, res, 100*time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Release(ctx, res); err != nil {
			t.Fatal(err)
		}
		us, err := l.Usage(ctx, "4")
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 0 {
			t.Errorf("premium usage %+v, want nothing recorded", us)
		}
	})

	// Without a Ledger (or a budget) everything is unlimited.
	ctx := context.Background()
	for name, b := range map[string]*media.AudioBudget{"nil": nil, "no ledger": {TierOf: tierMap(testTiers)}} {
		if got, err := b.Remaining(ctx, userFree); got != -1 || err != nil {
			t.Errorf("%s: Remaining = %v, %v; want -1", name, got, err)
		}
		res, err := b.Reserve(ctx, userFree, 1000*time.Hour)
		if err != nil || res.ID != "" {
			t.Errorf("%s: Reserve = %+v, %v", name, res, err)
		}
		if err := b.Commit(ctx, res, time.Hour); err != nil {
			t.Errorf("%s: Commit: %v", name, err)
		}
		for range 20 {
			if _, err := b.OpenStream(ctx, userFree); err != nil {
				t.Fatalf("%s: OpenStream: %v", name, err)
			}
		}
	}
}

func TestAudioBudgetStreams(t *testing.T) {
	ledgers(t, func(t *testing.T, l quota.Ledger, now func() time.Time) {
		ctx := context.Background()
		rec := &audittest.Memory{}
		b := newBudget(l, now, rec)
		for _, tt := range []struct {
			user    int64
			streams int
		}{{userFree, 1}, {userStandard, 3}, {userPremium, 10}, {userNone, 1}} {
			var releases []func()
			for i := range tt.streams {
				release, err := b.OpenStream(ctx, tt.user)
				if err != nil {
					t.Fatalf("user %d stream %d of %d: %v", tt.user, i+1, tt.streams, err)
				}
				releases = append(releases, release)
			}
			_, err := b.OpenStream(ctx, tt.user)
			wantBudgetError(t, err, media.CodeAudioStreams, 0)
			// Release frees a slot (twice is harmless), which the next stream takes.
			releases[0]()
			releases[0]()
			release, err := b.OpenStream(ctx, tt.user)
			if err != nil {
				t.Fatalf("user %d after a release: %v", tt.user, err)
			}
			_, err = b.OpenStream(ctx, tt.user)
			wantBudgetError(t, err, media.CodeAudioStreams, 0)
			release()
			for _, r := range releases[1:] {
				r()
			}
		}
		evs := rec.Find(audit.QuotaExceeded)
		if len(evs) != 8 {
			t.Fatalf("audit events %v, want 8 quota_exceeded", rec.Actions())
		}
		if e := evs[0]; e.UserID != userFree || e.Error != media.CodeAudioStreams ||
			e.Details["resource"] != string(quota.ResourceAudioStreams) {
			t.Errorf("audit event = %+v", e)
		}
		// Minutes and streams are separate: an open stream costs no minutes.
		if got := remaining(t, b, userFree); got != 30*time.Minute {
			t.Errorf("free minutes after streams: %v, want 30m", got)
		}
	})
}

// TestAudioBudgetStreamTTL: a crashed server's stream slot is freed by the ledger's sweep
// once StreamTTL has passed.
func TestAudioBudgetStreamTTL(t *testing.T) {
	ctx := context.Background()
	l := &quotatest.MemLedger{Now: func() time.Time { return budgetDay }}
	b := newBudget(l, l.Now, nil)
	b.StreamTTL = time.Minute
	if _, err := b.OpenStream(ctx, userFree); err != nil { // never released
		t.Fatal(err)
	}
	if _, err := b.OpenStream(ctx, userFree); !errors.Is(err, media.ErrBudgetExceeded) {
		t.Fatalf("second stream: %v, want refused", err)
	}
	if n, err := l.Sweep(ctx, budgetDay.Add(59*time.Second)); err != nil || n != 0 {
		t.Fatalf("Sweep before the TTL = %d, %v; want 0", n, err)
	}
	if n, err := l.Sweep(ctx, budgetDay.Add(61*time.Second)); err != nil || n != 1 {
		t.Fatalf("Sweep after the TTL = %d, %v; want 1", n, err)
	}
	if _, err := b.OpenStream(ctx, userFree); err != nil {
		t.Errorf("after the sweep: %v", err)
	}
}

// TestAudioBudgetReplicas: two AudioBudgets (two replicas) on one ledger, racing, never
// grant more minutes or streams than the tier has.
func TestAudioBudgetReplicas(t *testing.T) {
	ledgers(t, func(t *testing.T, l quota.Ledger, now func() time.Time) {
		ctx := context.Background()
		replicas := []*media.AudioBudget{newBudget(l, now, nil), newBudget(l, now, nil)}
		const tries = 8

		// Streams: standard has 3; 2 replicas × 8 tries at once.
		var granted, refused atomic.Int32
		var mu sync.Mutex
		var releases []func()
		var wg sync.WaitGroup
		for i := range 2 * tries {
			wg.Go(func() {
				release, err := replicas[i%2].OpenStream(ctx, userStandard)
				switch {
				case err == nil:
					granted.Add(1)
					mu.Lock()
					releases = append(releases, release)
					mu.Unlock()
				case errors.Is(err, media.ErrBudgetExceeded):
					refused.Add(1)
				default:
					t.Errorf("OpenStream: %v", err)
				}
			})
		}
		wg.Wait()
		if granted.Load() != 3 || refused.Load() != 2*tries-3 {
			t.Errorf("streams granted %d, refused %d; want 3 and %d", granted.Load(), refused.Load(), 2*tries-3)
		}
		// A stream released on one replica frees the slot for the other.
		releases[0]()
		if _, err := replicas[1].OpenStream(ctx, userStandard); err != nil {
			t.Errorf("after a release on the other replica: %v", err)
		}

		// Minutes: free has 30; 16 requests of 4 minutes fit 7 times.
		granted.Store(0)
		for i := range 2 * tries {
			wg.Go(func() {
				b := replicas[i%2]
				res, err := b.Reserve(ctx, userFree, 4*time.Minute)
				if err == nil {
					granted.Add(1)
					err = b.Commit(ctx, res, 4*time.Minute)
				}
				if err != nil && !errors.Is(err, media.ErrBudgetExceeded) {
					t.Errorf("Reserve: %v", err)
				}
			})
		}
		wg.Wait()
		if granted.Load() != 7 {
			t.Errorf("4-minute reservations granted %d, want 7", granted.Load())
		}
		for _, b := range replicas {
			if got := remaining(t, b, userFree); got != 2*time.Minute {
				t.Errorf("Remaining = %v on a replica, want 2m", got)
			}
		}
	})
}

func TestParseAudioTiers(t *testing.T) {
	def := media.DefaultAudioTiers()
	with := func(name string, tier media.AudioTier) map[string]media.AudioTier {
		m := media.DefaultAudioTiers()
		m[name] = tier
		return m
	}
	for _, tt := range []struct {
		name, json string
		want       map[string]media.AudioTier
		wantErr    string // a substring of the error; "" for none
	}{
		{"empty", "", def, ""},
		{"blank", "  \n", def, ""},
		{"empty object", "{}", def, ""},
		{"tldw's example", `{ "free": { "daily_minutes": 60, "concurrent_streams": 2 } }`, with("free", media.AudioTier{MinutesPerDay: 60, Streams: 2}), ""},
		{"partial override keeps the rest", `{"standard":{"concurrent_streams":5}}`, with("standard", media.AudioTier{MinutesPerDay: 300, Streams: 5}), ""},
		{"float minutes as tldw writes them", `{"free":{"daily_minutes":45.0}}`, with("free", media.AudioTier{MinutesPerDay: 45, Streams: 1}), ""},
		{"null minutes is unlimited", `{"standard":{"daily_minutes":null}}`, with("standard", media.AudioTier{MinutesPerDay: -1, Streams: 3}), ""},
		{"-1 minutes is unlimited", `{"free":{"daily_minutes":-1}}`, with("free", media.AudioTier{MinutesPerDay: -1, Streams: 1}), ""},
		{"zero", `{"free":{"daily_minutes":0,"concurrent_streams":0}}`, with("free", media.AudioTier{}), ""},
		{"new tier", `{"gold":{"daily_minutes":1000,"concurrent_streams":4}}`, with("gold", media.AudioTier{MinutesPerDay: 1000, Streams: 4}), ""},
		{"new unlimited tier", `{"team.a":{"daily_minutes":null,"concurrent_streams":20}}`, with("team.a", media.AudioTier{MinutesPerDay: -1, Streams: 20}), ""},

		{"bad JSON", `{"free":`, nil, "JSON object"},
		{"not an object", `[1,2]`, nil, "JSON object"},
		{"null", `null`, nil, "not null"},
		{"trailing data", `{} {}`, nil, "trailing data"},
		{"tier not an object", `{"free":5}`, nil, `tier "free"`},
		{"negative streams", `{"free":{"concurrent_streams":-1}}`, nil, "concurrent_streams -1"},
		{"fractional streams", `{"free":{"concurrent_streams":1.5}}`, nil, "concurrent_streams 1.5"},
		{"huge streams", `{"free":{"concurrent_streams":1e12}}`, nil, "concurrent_streams"},
		{"streams as a string", `{"free":{"concurrent_streams":"2"}}`, nil, "concurrent_streams"},
		{"null streams", `{"free":{"concurrent_streams":null}}`, nil, "concurrent_streams null"},
		{"minutes below -1", `{"free":{"daily_minutes":-2}}`, nil, "daily_minutes -2"},
		{"fractional minutes", `{"free":{"daily_minutes":0.5}}`, nil, "daily_minutes 0.5"},
		{"minutes as text", `{"free":{"daily_minutes":"unlimited"}}`, nil, "daily_minutes"},
		{"unknown field", `{"free":{"daily_minutes":30,"minutes":30}}`, nil, `unknown field "minutes"`},
		{"tldw's concurrent_jobs", `{"free":{"concurrent_jobs":2}}`, nil, "concurrent_jobs is tldw's"},
		{"tldw's max_file_size_mb", `{"free":{"max_file_size_mb":25}}`, nil, "max_file_size_mb is tldw's"},
		{"new tier without streams", `{"gold":{"daily_minutes":1000}}`, nil, "needs daily_minutes and concurrent_streams"},
		{"new tier without minutes", `{"gold":{"concurrent_streams":2}}`, nil, "needs daily_minutes and concurrent_streams"},
		{"empty tier name", `{"":{"daily_minutes":1,"concurrent_streams":1}}`, nil, "tier name"},
		{"bad tier name", `{"gold tier":{"daily_minutes":1,"concurrent_streams":1}}`, nil, "tier name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := media.ParseAudioTiers(tt.json)
			if tt.wantErr == "" {
				if err != nil || !maps.Equal(got, tt.want) {
					t.Errorf("ParseAudioTiers = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, media.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.Contains(err.Error(), "AUDIO_TIER_LIMITS_JSON") {
				t.Errorf("ParseAudioTiers error = %v, want ErrInvalid naming AUDIO_TIER_LIMITS_JSON and %q", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("ParseAudioTiers returned %v with its error", got)
			}
		})
	}
	// The result is a fresh map each time: changing it does not change the defaults.
	m, _ := media.ParseAudioTiers("")
	m["free"] = media.AudioTier{}
	if media.DefaultAudioTiers()["free"].MinutesPerDay != 30 {
		t.Error("changing ParseAudioTiers' result changed DefaultAudioTiers")
	}
}
