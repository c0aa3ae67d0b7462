package quota

import (
	"strconv"
	"testing"
	"time"
)

func (l *LocalLimiter) keys() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// TestLocalLimiterBoundedMemory checks that keys whose allowance is full again are dropped:
// memory follows the live keys, not every key ever seen.
func TestLocalLimiterBoundedMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLocalLimiter(func() time.Time { return now })
	lim := Limit{N: 5, Per: time.Minute}
	const rounds, perRound = 20, 10_000
	for r := range rounds {
		for i := range perRound {
			if d, err := l.Allow(t.Context(), "k"+strconv.Itoa(r)+":"+strconv.Itoa(i), lim); err != nil || !d.Allowed {
				t.Fatalf("Allow = %+v, %v", d, err)
			}
		}
		now = now.Add(time.Minute) // every key of this round is full again
	}
	// Live keys are at most one round's; a shard holds at most twice its live keys plus the
	// sweep floor.
	if n, limit := l.keys(), 2*perRound+localShards*minSweep; n > limit {
		t.Errorf("%d keys kept after %d rounds of %d, want at most %d", n, rounds, perRound, limit)
	}
	// A live key survives sweeps: it is still limited.
	for range 4 {
		if _, err := l.Allow(t.Context(), "live", lim); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100_000 { // short-lived keys, many sweeps; 0.1 s passes in all
		now = now.Add(time.Microsecond)
		_, _ = l.Allow(t.Context(), "other"+strconv.Itoa(i), Limit{N: 1, Per: time.Microsecond})
	}
	if n := l.keys(); n > localShards*minSweep {
		t.Errorf("%d keys kept, want the short-lived ones swept", n)
	}
	if d, _ := l.Allow(t.Context(), "live", lim); !d.Allowed || d.Remaining != 0 {
		t.Errorf("live key after sweeps: %+v, want its 5th admission with Remaining 0", d)
	}
	if d, _ := l.Allow(t.Context(), "live", lim); d.Allowed {
		t.Errorf("live key after sweeps: %+v, want refused (its state was swept)", d)
	}
}
