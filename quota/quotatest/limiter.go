package quotatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
)

// TestLimiter runs the behaviour every quota.Limiter must have: a burst of N then refusal,
// Retry-After of one Interval, the steady rate, Remaining and ResetAfter, key isolation,
// several limits at once, a large N, one per day, concurrent requests on one key and invalid
// limits. open returns a fresh, empty limiter reading time from now, which the suite controls
// (it starts at a fixed instant and only moves forward); it is called once per subtest.
// Durations are compared to within a millisecond. The limits used are at most one per
// 3.6 s, so a backend whose keys also expire on the wall clock (Redis) is not disturbed by
// a slow test run.
func TestLimiter(t *testing.T, open func(t *testing.T, now func() time.Time) quota.Limiter) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, *limiterEnv)
	}{
		{"Burst", testBurst},
		{"SteadyRate", testSteadyRate},
		{"Refill", testRefill},
		{"KeyIsolation", testKeyIsolation},
		{"DifferentLimits", testDifferentLimits},
		{"LargeN", testLargeN},
		{"OnePerDay", testOnePerDay},
		{"Concurrent", testConcurrent},
		{"InvalidLimit", testInvalidLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
			tt.fn(t, &limiterEnv{t: t, l: open(t, clk.Now), clk: clk})
		})
	}
}

// clock is the suites' fake time, handed to the Limiter or Ledger under test. Safe for
// concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// limiterEnv is one subtest's limiter and clock with assertion helpers.
type limiterEnv struct {
	t   *testing.T
	l   quota.Limiter
	clk *clock
}

// want is the expected part of a Decision; durations are compared within tolerance.
type want struct {
	allowed    bool
	remaining  int
	retryAfter time.Duration
	resetAfter time.Duration
}

const tolerance = time.Millisecond

func near(got, want time.Duration) bool {
	d := got - want
	return d >= -tolerance && d <= tolerance
}

// allow asks for one request and checks the decision against w.
func (e *limiterEnv) allow(key string, lim quota.Limit, w want) {
	e.t.Helper()
	d, err := e.l.Allow(e.t.Context(), key, lim)
	if err != nil {
		e.t.Fatalf("Allow(%q, %d/%v): %v", key, lim.N, lim.Per, err)
	}
	if d.Allowed != w.allowed || d.Remaining != w.remaining || d.Limit != lim.N ||
		!near(d.RetryAfter, w.retryAfter) || !near(d.ResetAfter, w.resetAfter) {
		e.t.Errorf("Allow(%q, %d/%v) at +%v = %s; want %s", key, lim.N, lim.Per, e.elapsed(),
			show(d), show(quota.Decision{Allowed: w.allowed, Limit: lim.N, Remaining: w.remaining,
				RetryAfter: w.retryAfter, ResetAfter: w.resetAfter}))
	}
}

// burst admits n requests at the current instant and checks each one's decision.
func (e *limiterEnv) burst(key string, lim quota.Limit, n int) {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		e.allow(key, lim, want{allowed: true, remaining: lim.N - i, resetAfter: time.Duration(i) * lim.Interval()})
	}
}

func (e *limiterEnv) elapsed() time.Duration {
	return e.clk.Now().Sub(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

func show(d quota.Decision) string {
	return fmt.Sprintf("{Allowed:%v Limit:%d Remaining:%d RetryAfter:%v ResetAfter:%v}",
		d.Allowed, d.Limit, d.Remaining, d.RetryAfter, d.ResetAfter)
}

var fivePerMinute = quota.Limit{N: 5, Per: time.Minute} // Interval 12 s

func testBurst(t *testing.T, e *limiterEnv) {
	e.burst("login:alice", fivePerMinute, 5)
	// Refused: the next slot is one Interval away, the allowance full one Per away.
	e.allow("login:alice", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
	e.allow("login:alice", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
}

func testSteadyRate(t *testing.T, e *limiterEnv) {
	e.burst("k", fivePerMinute, 5)
	for range 3 {
		e.clk.Advance(6 * time.Second) // half an Interval: still refused
		e.allow("k", fivePerMinute, want{retryAfter: 6 * time.Second, resetAfter: 54 * time.Second})
		e.clk.Advance(6*time.Second - 10*time.Millisecond)
		e.allow("k", fivePerMinute, want{retryAfter: 10 * time.Millisecond, resetAfter: 48*time.Second + 10*time.Millisecond})
		e.clk.Advance(10 * time.Millisecond) // one Interval since the last admission: exactly one more
		e.allow("k", fivePerMinute, want{allowed: true, remaining: 0, resetAfter: time.Minute})
		e.allow("k", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
	}
}

func testRefill(t *testing.T, e *limiterEnv) {
	e.burst("k", fivePerMinute, 2)
	e.clk.Advance(24 * time.Second) // the ResetAfter of the second request: full again
	e.burst("k", fivePerMinute, 5)
	e.allow("k", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})

	e.clk.Advance(30 * time.Second) // two and a half Intervals: two slots back
	e.allow("k", fivePerMinute, want{allowed: true, remaining: 1, resetAfter: 42 * time.Second})
	e.allow("k", fivePerMinute, want{allowed: true, remaining: 0, resetAfter: 54 * time.Second})
	e.allow("k", fivePerMinute, want{retryAfter: 6 * time.Second, resetAfter: 54 * time.Second})

	e.clk.Advance(10 * 24 * time.Hour) // long idle: a full burst, never more
	e.burst("k", fivePerMinute, 5)
	e.allow("k", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
}

func testKeyIsolation(t *testing.T, e *limiterEnv) {
	e.burst("ip:192.0.2.1", fivePerMinute, 5)
	e.allow("ip:192.0.2.1", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
	e.burst("ip:192.0.2.2", fivePerMinute, 5)
	e.burst("IP:192.0.2.1", fivePerMinute, 5) // keys are compared exactly
	e.allow("ip:192.0.2.1", fivePerMinute, want{retryAfter: 12 * time.Second, resetAfter: time.Minute})
}

func testDifferentLimits(t *testing.T, e *limiterEnv) {
	login := quota.Limit{N: 3, Per: time.Minute}     // Interval 20 s
	upload := quota.Limit{N: 10, Per: time.Hour}     // Interval 6 min
	chat := quota.Limit{N: 2, Per: 10 * time.Second} // Interval 5 s
	e.burst("login:bob", login, 3)
	e.burst("upload:bob", upload, 10)
	e.burst("chat:bob", chat, 2)
	e.allow("login:bob", login, want{retryAfter: 20 * time.Second, resetAfter: time.Minute})
	e.allow("upload:bob", upload, want{retryAfter: 6 * time.Minute, resetAfter: time.Hour})
	e.allow("chat:bob", chat, want{retryAfter: 5 * time.Second, resetAfter: 10 * time.Second})

	e.clk.Advance(20 * time.Second)
	e.allow("login:bob", login, want{allowed: true, remaining: 0, resetAfter: time.Minute})
	e.allow("upload:bob", upload, want{retryAfter: 5*time.Minute + 40*time.Second, resetAfter: 59*time.Minute + 40*time.Second})
	e.allow("chat:bob", chat, want{allowed: true, remaining: 1, resetAfter: 5 * time.Second})
}

func testLargeN(t *testing.T, e *limiterEnv) {
	lim := quota.Limit{N: 1000, Per: time.Hour} // Interval 3.6 s
	e.burst("api:carol", lim, 1000)
	e.allow("api:carol", lim, want{retryAfter: 3600 * time.Millisecond, resetAfter: time.Hour})
	e.clk.Advance(36 * time.Second)
	e.burst("api:carol2", lim, 1) // unrelated key unaffected
	for i := 9; i >= 0; i-- {
		e.allow("api:carol", lim, want{allowed: true, remaining: i, resetAfter: time.Hour - time.Duration(i)*3600*time.Millisecond})
	}
	e.allow("api:carol", lim, want{retryAfter: 3600 * time.Millisecond, resetAfter: time.Hour})
}

func testOnePerDay(t *testing.T, e *limiterEnv) {
	const day = 24 * time.Hour
	lim := quota.Limit{N: 1, Per: day}
	e.allow("export:dave", lim, want{allowed: true, remaining: 0, resetAfter: day})
	e.allow("export:dave", lim, want{retryAfter: day, resetAfter: day})
	e.clk.Advance(day - time.Minute)
	e.allow("export:dave", lim, want{retryAfter: time.Minute, resetAfter: time.Minute})
	e.clk.Advance(time.Minute)
	e.allow("export:dave", lim, want{allowed: true, remaining: 0, resetAfter: day})
	e.allow("export:dave", lim, want{retryAfter: day, resetAfter: day})
}

func testConcurrent(t *testing.T, e *limiterEnv) {
	lim := quota.Limit{N: 20, Per: time.Minute}
	const callers = 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		remain  = make(map[int]bool)
	)
	for range callers {
		wg.Go(func() {
			d, err := e.l.Allow(t.Context(), "shared", lim)
			if err != nil {
				t.Errorf("Allow: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if d.Allowed {
				allowed++
				remain[d.Remaining] = true
			}
		})
	}
	wg.Wait()
	if allowed != lim.N {
		t.Errorf("%d concurrent requests on one key: %d admitted, want exactly %d", callers, allowed, lim.N)
	}
	if len(remain) != lim.N {
		t.Errorf("admitted requests saw %d distinct Remaining values, want %d (each admission counted once)", len(remain), lim.N)
	}
}

func testInvalidLimit(t *testing.T, e *limiterEnv) {
	for _, lim := range []quota.Limit{
		{N: 0, Per: time.Minute},
		{N: -1, Per: time.Minute},
		{N: 5, Per: 0},
		{N: 5, Per: -time.Second},
		{N: 2000, Per: time.Millisecond}, // finer than one per microsecond
	} {
		if _, err := e.l.Allow(t.Context(), "k", lim); !errors.Is(err, quota.ErrInvalid) {
			t.Errorf("Allow(%d/%v) error = %v, want quota.ErrInvalid", lim.N, lim.Per, err)
		}
	}
}
