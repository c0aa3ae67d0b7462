package quotatest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
)

// ledgerBase is the Ledger suite's starting time: whole seconds, which every backend keeps
// exactly.
var ledgerBase = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ledgerTTL is the reservation lifetime the suite uses unless a test says otherwise.
const ledgerTTL = time.Hour

// TestLedger runs the behaviour every quota.Ledger must have. open returns a fresh, empty
// ledger whose Reserve reads the time from now (it is called once per subtest, and Sweep
// sweeps the whole ledger, so ledgers must not share state). Subjects are short strings
// that are not user ids of the backing store, so no store-specific defaults apply: a subject
// without a limit is unlimited. The contract checked beyond the quota.Ledger comments:
//   - Reserve rejects an empty subject or resource, n < 0 and ttl ≤ 0 with ErrInvalid;
//     Commit a negative actual; SetLimit a limit < -1; Usage an empty subject.
//   - A reservation is identified by its ID, Subject and Resource together; Commit of one
//     that does not match a live reservation is ErrNotFound, Release of it is nil.
//   - ExpiresAt is now + ttl; Sweep(now) releases reservations with ExpiresAt < now, and a
//     reservation lives until it is committed, released or swept.
//   - Usage lists the resources a subject has touched (Reserve, Add, SetLimit), sorted by
//     name, and none for an unknown subject.
//   - 100 concurrent 1-unit reservations against a limit of 10 yield exactly 10 successes
//     and 90 ErrExceeded.
//   - Extend grows a live reservation only within the limit; Locked sections of one
//     subject never overlap, and ledger calls made inside one work (read-modify-write
//     inside Locked loses no update).
func TestLedger(t *testing.T, open func(t *testing.T, now func() time.Time) quota.Ledger) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, quota.Ledger, *clock)
	}{
		{"ReserveWithinAndOverLimit", testLedgerReserveLimit},
		{"Unlimited", testLedgerUnlimited},
		{"CommitActual", testLedgerCommitActual},
		{"Release", testLedgerRelease},
		{"DoubleCommit", testLedgerDoubleCommit},
		{"ReservationIdentity", testLedgerIdentity},
		{"ExpiryAndSweep", testLedgerSweep},
		{"Add", testLedgerAdd},
		{"SetLimitBelowUsage", testLedgerSetLimitBelowUsage},
		{"UsageShape", testLedgerUsageShape},
		{"ConcurrentReserve", testLedgerConcurrentReserve},
		{"Invalid", testLedgerInvalid},
		{"Extend", testLedgerExtend},
		{"LockedSerialises", testLedgerLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: ledgerBase}
			tt.fn(t, open(t, clk.Now), clk)
		})
	}
}

// storageRes is the resource most tests use.
const storageRes = quota.ResourceStorage

// ledgerUsageOf returns the subject's usage of r, failing when it is not listed.
func ledgerUsageOf(t *testing.T, l quota.Ledger, subject string, r quota.Resource) quota.Usage {
	t.Helper()
	us, err := l.Usage(context.Background(), subject)
	if err != nil {
		t.Fatalf("Usage(%q): %v", subject, err)
	}
	for _, u := range us {
		if u.Resource == r {
			return u
		}
	}
	t.Fatalf("Usage(%q) = %+v: no %s", subject, us, r)
	return quota.Usage{}
}

func ledgerWantUsage(t *testing.T, l quota.Ledger, subject string, want quota.Usage) {
	t.Helper()
	if got := ledgerUsageOf(t, l, subject, want.Resource); got != want {
		t.Fatalf("usage of %q = %+v, want %+v", subject, got, want)
	}
}

func ledgerMustReserve(t *testing.T, l quota.Ledger, subject string, r quota.Resource, n int64, d time.Duration) quota.Reservation {
	t.Helper()
	res, err := l.Reserve(context.Background(), subject, r, n, d)
	if err != nil {
		t.Fatalf("Reserve(%q, %s, %d): %v", subject, r, n, err)
	}
	return res
}

func ledgerMustSetLimit(t *testing.T, l quota.Ledger, subject string, r quota.Resource, limit int64) {
	t.Helper()
	if err := l.SetLimit(context.Background(), subject, r, limit); err != nil {
		t.Fatalf("SetLimit(%q, %s, %d): %v", subject, r, limit, err)
	}
}

func ledgerMustCommit(t *testing.T, l quota.Ledger, res quota.Reservation, actual int64) {
	t.Helper()
	if err := l.Commit(context.Background(), res, actual); err != nil {
		t.Fatalf("Commit(%+v, %d): %v", res, actual, err)
	}
}

func ledgerWantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func testLedgerReserveLimit(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	ledgerMustSetLimit(t, l, "alice", storageRes, 100)
	a := ledgerMustReserve(t, l, "alice", storageRes, 60, ledgerTTL)
	if a.ID == "" || a.Subject != "alice" || a.Resource != storageRes || a.Amount != 60 {
		t.Fatalf("reservation = %+v, want an ID, alice, %s, 60", a, storageRes)
	}
	if !a.ExpiresAt.Equal(ledgerBase.Add(ledgerTTL)) {
		t.Fatalf("ExpiresAt = %v, want %v", a.ExpiresAt, ledgerBase.Add(ledgerTTL))
	}
	_, err := l.Reserve(ctx, "alice", storageRes, 41, ledgerTTL)
	ledgerWantErr(t, "Reserve past the limit", err, quota.ErrExceeded)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 60, Limit: 100})

	b := ledgerMustReserve(t, l, "alice", storageRes, 40, ledgerTTL) // exactly to the limit
	if b.ID == a.ID {
		t.Fatalf("two reservations share ID %q", a.ID)
	}
	_, err = l.Reserve(ctx, "alice", storageRes, 1, ledgerTTL)
	ledgerWantErr(t, "Reserve at a full quota", err, quota.ErrExceeded)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 100, Limit: 100})

	// Another subject and another resource have their own limits.
	ledgerMustReserve(t, l, "bob", storageRes, 1000, ledgerTTL)
	ledgerMustReserve(t, l, "alice", "other", 1000, ledgerTTL)
}

func testLedgerUnlimited(t *testing.T, l quota.Ledger, _ *clock) {
	ledgerMustReserve(t, l, "carol", storageRes, 1<<40, ledgerTTL) // no limit set: unlimited
	ledgerWantUsage(t, l, "carol", quota.Usage{Resource: storageRes, Reserved: 1 << 40, Limit: -1})

	ledgerMustSetLimit(t, l, "dave", storageRes, 10)
	_, err := l.Reserve(context.Background(), "dave", storageRes, 11, ledgerTTL)
	ledgerWantErr(t, "Reserve past the limit", err, quota.ErrExceeded)
	ledgerMustSetLimit(t, l, "dave", storageRes, -1)
	ledgerMustReserve(t, l, "dave", storageRes, 1<<40, ledgerTTL)
	ledgerWantUsage(t, l, "dave", quota.Usage{Resource: storageRes, Reserved: 1 << 40, Limit: -1})
}

func testLedgerCommitActual(t *testing.T, l quota.Ledger, _ *clock) {
	ledgerMustSetLimit(t, l, "alice", storageRes, 100)
	a := ledgerMustReserve(t, l, "alice", storageRes, 50, ledgerTTL)
	ledgerMustCommit(t, l, a, 30) // smaller than reserved: the rest is freed
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 30, Limit: 100})

	b := ledgerMustReserve(t, l, "alice", storageRes, 70, ledgerTTL) // 30 + 70 = 100
	ledgerMustCommit(t, l, b, 90)                                    // larger: the caller measured it
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 120, Limit: 100})

	_, err := l.Reserve(context.Background(), "alice", storageRes, 0, ledgerTTL)
	ledgerWantErr(t, "Reserve over a quota already exceeded", err, quota.ErrExceeded)
	ledgerMustCommit(t, l, ledgerMustReserve(t, l, "bob", storageRes, 5, ledgerTTL), 0)
	ledgerWantUsage(t, l, "bob", quota.Usage{Resource: storageRes, Limit: -1})
}

func testLedgerRelease(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	ledgerMustSetLimit(t, l, "alice", storageRes, 100)
	a := ledgerMustReserve(t, l, "alice", storageRes, 80, ledgerTTL)
	if err := l.Release(ctx, a); err != nil {
		t.Fatalf("Release: %v", err)
	}
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Limit: 100})
	if err := l.Release(ctx, a); err != nil {
		t.Fatalf("second Release: %v, want nil", err)
	}
	unknown := quota.Reservation{ID: "no-such-reservation", Subject: "alice", Resource: storageRes, Amount: 5}
	if err := l.Release(ctx, unknown); err != nil {
		t.Fatalf("Release of an unknown reservation: %v, want nil", err)
	}
	if err := l.Release(ctx, quota.Reservation{}); err != nil {
		t.Fatalf("Release of the zero reservation: %v, want nil", err)
	}
	ledgerWantErr(t, "Commit after Release", l.Commit(ctx, a, 10), quota.ErrNotFound)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Limit: 100})
	ledgerMustReserve(t, l, "alice", storageRes, 100, ledgerTTL) // the released room is free again
}

func testLedgerDoubleCommit(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	a := ledgerMustReserve(t, l, "alice", storageRes, 10, ledgerTTL)
	ledgerMustCommit(t, l, a, 10)
	ledgerWantErr(t, "second Commit", l.Commit(ctx, a, 10), quota.ErrNotFound)
	ledgerWantErr(t, "Commit of an unknown reservation",
		l.Commit(ctx, quota.Reservation{ID: "no-such-reservation", Subject: "alice", Resource: storageRes, Amount: 1}, 1),
		quota.ErrNotFound)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 10, Limit: -1})
}

func testLedgerIdentity(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	a := ledgerMustReserve(t, l, "alice", storageRes, 10, ledgerTTL)
	other := a
	other.Subject = "mallory"
	ledgerWantErr(t, "Commit under another subject", l.Commit(ctx, other, 10), quota.ErrNotFound)
	if err := l.Release(ctx, other); err != nil {
		t.Fatalf("Release under another subject: %v, want nil", err)
	}
	other = a
	other.Resource = "other"
	ledgerWantErr(t, "Commit under another resource", l.Commit(ctx, other, 10), quota.ErrNotFound)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 10, Limit: -1})

	// The ledger's recorded amount counts, not the caller's copy.
	forged := a
	forged.Amount = 1
	if err := l.Release(ctx, forged); err != nil {
		t.Fatalf("Release: %v", err)
	}
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Limit: -1})
}

func testLedgerSweep(t *testing.T, l quota.Ledger, clk *clock) {
	ctx := context.Background()
	ledgerMustSetLimit(t, l, "alice", storageRes, 15)
	short := ledgerMustReserve(t, l, "alice", storageRes, 10, time.Minute)
	clk.Set(ledgerBase.Add(5 * time.Minute))
	long := ledgerMustReserve(t, l, "alice", storageRes, 5, 10*time.Minute)
	if want := ledgerBase.Add(15 * time.Minute); !long.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v (the clock's now + ledgerTTL)", long.ExpiresAt, want)
	}
	bob := ledgerMustReserve(t, l, "bob", storageRes, 7, time.Minute) // expires at ledgerBase+6m

	sweep := func(at time.Time, want int) {
		t.Helper()
		n, err := l.Sweep(ctx, at)
		if err != nil || n != want {
			t.Fatalf("Sweep(%v) = %d, %v; want %d", at.Sub(ledgerBase), n, err, want)
		}
	}
	sweep(ledgerBase.Add(30*time.Second), 0)
	// A reservation lives until swept, even past its expiry.
	_, err := l.Reserve(ctx, "alice", storageRes, 1, ledgerTTL)
	ledgerWantErr(t, "Reserve while expired reservations are unswept", err, quota.ErrExceeded)

	sweep(ledgerBase.Add(2*time.Minute), 1) // alice's short one
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 5, Limit: 15})
	ledgerWantErr(t, "Commit of a swept reservation", l.Commit(ctx, short, 10), quota.ErrNotFound)
	if err := l.Release(ctx, short); err != nil {
		t.Fatalf("Release of a swept reservation: %v, want nil", err)
	}
	sweep(ledgerBase.Add(2*time.Minute), 0)
	fresh := ledgerMustReserve(t, l, "alice", storageRes, 10, ledgerTTL) // the swept room is free again

	sweep(ledgerBase.Add(20*time.Minute), 2) // alice's long one and bob's
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 10, Limit: 15})
	ledgerWantUsage(t, l, "bob", quota.Usage{Resource: storageRes, Limit: -1})
	ledgerWantErr(t, "Commit of bob's swept reservation", l.Commit(ctx, bob, 7), quota.ErrNotFound)
	ledgerMustCommit(t, l, fresh, 10)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 10, Limit: 15})
	sweep(ledgerBase.Add(24*time.Hour), 0)
}

func testLedgerAdd(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	add := func(delta int64) {
		t.Helper()
		if err := l.Add(ctx, "alice", storageRes, delta); err != nil {
			t.Fatalf("Add(%d): %v", delta, err)
		}
	}
	add(100) // creates an unlimited row
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 100, Limit: -1})
	add(-30)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 70, Limit: -1})
	add(-500)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 0, Limit: -1})
	add(-1)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 0, Limit: -1})

	// Added usage counts against the limit; reservations are untouched by Add.
	ledgerMustSetLimit(t, l, "bob", storageRes, 100)
	ledgerMustReserve(t, l, "bob", storageRes, 20, ledgerTTL)
	if err := l.Add(ctx, "bob", storageRes, 80); err != nil {
		t.Fatalf("Add: %v", err)
	}
	_, err := l.Reserve(ctx, "bob", storageRes, 1, ledgerTTL)
	ledgerWantErr(t, "Reserve after Add filled the quota", err, quota.ErrExceeded)
	ledgerWantUsage(t, l, "bob", quota.Usage{Resource: storageRes, Used: 80, Reserved: 20, Limit: 100})
}

func testLedgerSetLimitBelowUsage(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	ledgerMustSetLimit(t, l, "alice", storageRes, 100)
	ledgerMustCommit(t, l, ledgerMustReserve(t, l, "alice", storageRes, 80, ledgerTTL), 80)
	ledgerMustSetLimit(t, l, "alice", storageRes, 50)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 80, Limit: 50})
	_, err := l.Reserve(ctx, "alice", storageRes, 1, ledgerTTL)
	ledgerWantErr(t, "Reserve above a lowered limit", err, quota.ErrExceeded)
	ledgerMustSetLimit(t, l, "alice", storageRes, 0)
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Used: 80, Limit: 0})
}

func testLedgerUsageShape(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	us, err := l.Usage(ctx, "nobody")
	if err != nil || len(us) != 0 {
		t.Fatalf("Usage of an unknown subject = %+v, %v; want none", us, err)
	}
	ledgerMustSetLimit(t, l, "alice", "zeta", 5)
	ledgerMustReserve(t, l, "alice", storageRes, 3, ledgerTTL)
	if err := l.Add(ctx, "alice", "alpha", 7); err != nil {
		t.Fatalf("Add: %v", err)
	}
	ledgerMustSetLimit(t, l, "bob", storageRes, 1)
	us, err = l.Usage(ctx, "alice")
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	want := []quota.Usage{
		{Resource: "alpha", Used: 7, Limit: -1},
		{Resource: storageRes, Reserved: 3, Limit: -1},
		{Resource: "zeta", Limit: 5},
	}
	if fmt.Sprint(us) != fmt.Sprint(want) {
		t.Fatalf("Usage = %+v, want %+v", us, want)
	}
}

func testLedgerConcurrentReserve(t *testing.T, l quota.Ledger, _ *clock) {
	const goroutines, limit = 100, 10
	ledgerMustSetLimit(t, l, "alice", storageRes, limit)
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		ok, exceeded, other int
		firstErr            error
	)
	for range goroutines {
		wg.Go(func() {
			_, err := l.Reserve(context.Background(), "alice", storageRes, 1, ledgerTTL)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, quota.ErrExceeded):
				exceeded++
			default:
				other++
				if firstErr == nil {
					firstErr = err
				}
			}
		})
	}
	wg.Wait()
	if ok != limit || exceeded != goroutines-limit || other != 0 {
		t.Fatalf("%d concurrent reservations: %d ok, %d exceeded, %d other errors (first: %v); want %d ok",
			goroutines, ok, exceeded, other, firstErr, limit)
	}
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: limit, Limit: limit})
}

func testLedgerInvalid(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	res := ledgerMustReserve(t, l, "alice", storageRes, 1, ledgerTTL)
	reserve := func(subject string, r quota.Resource, n int64, d time.Duration) error {
		_, err := l.Reserve(ctx, subject, r, n, d)
		return err
	}
	cases := []struct {
		name string
		err  error
	}{
		{"Reserve empty subject", reserve("", storageRes, 1, ledgerTTL)},
		{"Reserve empty resource", reserve("alice", "", 1, ledgerTTL)},
		{"Reserve negative amount", reserve("alice", storageRes, -1, ledgerTTL)},
		{"Reserve zero ledgerTTL", reserve("alice", storageRes, 1, 0)},
		{"Reserve negative ledgerTTL", reserve("alice", storageRes, 1, -time.Second)},
		{"Commit negative actual", l.Commit(ctx, res, -1)},
		{"Add empty subject", l.Add(ctx, "", storageRes, 1)},
		{"Add empty resource", l.Add(ctx, "alice", "", 1)},
		{"SetLimit below -1", l.SetLimit(ctx, "alice", storageRes, -2)},
		{"SetLimit empty subject", l.SetLimit(ctx, "", storageRes, 1)},
	}
	for _, c := range cases {
		ledgerWantErr(t, c.name, c.err, quota.ErrInvalid)
	}
	if _, err := l.Usage(ctx, ""); !errors.Is(err, quota.ErrInvalid) {
		t.Fatalf("Usage empty subject: err = %v, want ErrInvalid", err)
	}
	// Nothing above changed the ledger; the reservation is still live.
	ledgerWantUsage(t, l, "alice", quota.Usage{Resource: storageRes, Reserved: 1, Limit: -1})
	ledgerMustCommit(t, l, res, 1)
}

func testLedgerExtend(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	if err := l.SetLimit(ctx, "ext", storageRes, 10); err != nil {
		t.Fatal(err)
	}
	res := ledgerMustReserve(t, l, "ext", storageRes, 4, time.Hour)
	res, err := l.Extend(ctx, res, 5)
	if err != nil || res.Amount != 9 {
		t.Fatalf("Extend by 5 = %+v, %v; want amount 9", res, err)
	}
	ledgerWantUsage(t, l, "ext", quota.Usage{Resource: storageRes, Reserved: 9, Limit: 10})
	if _, err := l.Extend(ctx, res, 2); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("Extend past the limit: %v, want ErrExceeded", err)
	}
	ledgerWantUsage(t, l, "ext", quota.Usage{Resource: storageRes, Reserved: 9, Limit: 10})
	if err := l.Commit(ctx, res, 7); err != nil {
		t.Fatal(err)
	}
	ledgerWantUsage(t, l, "ext", quota.Usage{Resource: storageRes, Used: 7, Limit: 10})
	if _, err := l.Extend(ctx, res, 1); !errors.Is(err, quota.ErrNotFound) {
		t.Fatalf("Extend of a committed reservation: %v, want ErrNotFound", err)
	}
	if _, err := l.Extend(ctx, res, -1); !errors.Is(err, quota.ErrInvalid) {
		t.Fatalf("Extend by -1: %v, want ErrInvalid", err)
	}
}

// testLedgerLocked runs 20 Locked sections of one subject concurrently, each reading the
// usage and adding 1 with the section's ctx: they must never overlap, and all must count.
func testLedgerLocked(t *testing.T, l quota.Ledger, _ *clock) {
	ctx := context.Background()
	const n = 20
	var (
		wg      sync.WaitGroup
		inside  atomic.Int32
		overlap atomic.Bool
		errs    = make(chan error, n)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.Locked(ctx, "locked", storageRes, func(ctx context.Context) error {
				if inside.Add(1) > 1 {
					overlap.Store(true)
				}
				defer inside.Add(-1)
				if _, err := l.Usage(ctx, "locked"); err != nil {
					return err
				}
				runtime.Gosched()
				return l.Add(ctx, "locked", storageRes, 1)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Locked: %v", err)
		}
	}
	if overlap.Load() {
		t.Error("two Locked sections of one subject ran at once")
	}
	ledgerWantUsage(t, l, "locked", quota.Usage{Resource: storageRes, Used: n, Limit: -1})
	if err := l.Locked(ctx, "", storageRes, func(context.Context) error { return nil }); !errors.Is(err, quota.ErrInvalid) {
		t.Errorf("Locked with an empty subject: %v, want ErrInvalid", err)
	}
}
