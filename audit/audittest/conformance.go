package audittest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// Harness is what [TestSink] needs from one fresh instance of a Sink implementation.
type Harness struct {
	// Sink is the implementation under test, empty.
	Sink audit.Sink
	// Events reads back what Sink stored, oldest first; nil skips the read-back checks
	// (for write-only sinks).
	Events func(ctx context.Context) ([]audit.Event, error)
	// Records reads back the stored hash chain, oldest first; nil for sinks that do not
	// chain.
	Records func(ctx context.Context) ([]audit.Record, error)
}

// TestSink runs the conformance suite for an audit.Sink implementation. newHarness is
// called once per subtest and must return a fresh, empty instance (register cleanups with
// t.Cleanup). The suite checks that
//
//   - SampleEvents are accepted and, when Events is set, read back with the same
//     audit.Canonical encoding (so the hash chain survives the storage round trip: JSON
//     numbers, key order, time zones, Unicode, escapes);
//   - when Records is set, the stored chain verifies with audit.Verify and carries the same
//     events;
//   - concurrent writers neither fail nor lose events, and the chain stays linear.
func TestSink(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("RoundTrip", func(t *testing.T) {
		h := newHarness(t)
		ctx := t.Context()
		want := SampleEvents()
		for i, e := range want {
			if err := h.Sink.Write(ctx, e); err != nil {
				t.Fatalf("Write(sample %d): %v", i, err)
			}
		}
		if h.Events != nil {
			got, err := h.Events(ctx)
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			compareEvents(t, got, want)
		}
		if h.Records != nil {
			recs, err := h.Records(ctx)
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			verifyChain(t, recs, len(want))
			evs := make([]audit.Event, len(recs))
			for i, r := range recs {
				evs[i] = r.Event
			}
			compareEvents(t, evs, want)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		h := newHarness(t)
		ctx := t.Context()
		const writers, each = 8, 25
		base := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e := audit.Redact(audit.Event{
						Time: base.Add(time.Duration(w*each+i) * time.Millisecond), UserID: int64(w + 1),
						Username: fmt.Sprintf("user%d", w), Action: audit.TokenRefresh, Success: true,
						IP: "192.0.2.1", RequestID: fmt.Sprintf("c-%d-%d", w, i),
						Details: map[string]any{"writer": w, "i": i},
					})
					if err := h.Sink.Write(ctx, e); err != nil {
						errs <- fmt.Errorf("writer %d event %d: %w", w, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if h.Events != nil {
			got, err := h.Events(ctx)
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			ids := make([]string, 0, len(got))
			for _, e := range got {
				ids = append(ids, e.RequestID)
			}
			slices.Sort(ids)
			var wantIDs []string
			for w := range writers {
				for i := range each {
					wantIDs = append(wantIDs, fmt.Sprintf("c-%d-%d", w, i))
				}
			}
			slices.Sort(wantIDs)
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("read back %d events, want %d distinct request ids c-W-I", len(ids), len(wantIDs))
			}
		}
		if h.Records != nil {
			recs, err := h.Records(ctx)
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			verifyChain(t, recs, writers*each)
		}
	})
}

func compareEvents(t *testing.T, got, want []audit.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := audit.Canonical(got[i]), audit.Canonical(want[i])
		if string(g) != string(w) {
			t.Errorf("event %d changed in storage (its chain hash would break):\n got  %s\n want %s", i, g, w)
		}
	}
}

func verifyChain(t *testing.T, recs []audit.Record, n int) {
	t.Helper()
	rep, err := audit.Verify(t.Context(), func(yield func(audit.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, nil, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK || rep.Checked != int64(n) {
		t.Errorf("Verify = %+v (break %+v), want OK with %d rows", rep, rep.Break, n)
	}
}

// SampleEvents returns a fresh set of redacted events that exercise the storage round
// trip: non-UTC times with nanoseconds, IPv4-mapped and upper-case IPv6 addresses, Unicode
// and control characters, JSON metacharacters, nested Details, empty Details, integers
// above 2^53 and above int64, floats and exponents, and over-long strings. A Sink must store
// each so that audit.Canonical of the read-back event equals audit.Canonical of the written
// one; for JSON columns that means decoding numbers with json.Decoder.UseNumber.
func SampleEvents() []audit.Event {
	zone := time.FixedZone("UTC+2", 2*60*60)
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 123456789, zone)
	raw := []audit.Event{
		{
			Time: t0, Action: audit.LoginFailed, Username: "alice", IP: "203.0.113.7",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", RequestID: "req-1", Method: "POST",
			Path: "/api/v1/auth/login", Error: "incorrect username or password",
			Details: map[string]any{"reason": "bad_password", "attempt": 3},
		},
		{
			Time: t0.Add(time.Second), Action: "LOGIN_SUCCESS", UserID: 7,
			Username: "Zoë 中文 \r\n\x1b[31mLOGIN_FAILED IP: 6.6.6.6", IP: "::ffff:198.51.100.9",
			Success: true, RequestID: "req-2",
			Details: map[string]any{
				"nested":     map[string]any{"list": []any{1, 2.5, "x", true, nil, map[string]any{"empty": map[string]any{}}}},
				"empty_list": []any{},
				"meta":       "\"'\\<>&\u2028\u2029\t",
				"unicode":    "😀 ünïcødé",
			},
		},
		{
			Time: t0.Add(2 * time.Second), Action: audit.QuotaChanged, UserID: 1, Username: "admin",
			TargetType: "user", TargetID: "42", Success: true, IP: "2001:DB8::1",
			Details: map[string]any{
				"big_int":  json.Number("9007199254740993"),
				"huge_int": json.Number("12345678901234567890"),
				"float":    1.5,
				"exp":      json.Number("1e2"),
				"neg":      -7,
				"zero":     0.0,
				"tiny":     json.Number("1.25e-7"),
			},
		},
		{Time: t0.Add(3 * time.Second), Action: audit.Logout, UserID: 42, Success: true, Details: map[string]any{}},
		{Time: t0.Add(4 * time.Second), Action: "custom.Thing"},
		{
			Time: t0.Add(5 * time.Second), Action: audit.AccessDenied, UserID: 3,
			Username: strings.Repeat("x", 3*audit.MaxFieldLen), Path: "/api/v1/admin/users?token=abc",
			Details: map[string]any{"long": strings.Repeat("é", audit.MaxFieldLen)},
		},
	}
	out := make([]audit.Event, len(raw))
	for i, e := range raw {
		out[i] = audit.Redact(e)
	}
	return out
}
