package quota_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
)

// TestBudget: a day's allowance is enforced by the ledger's reservations, what is used or
// reserved counts, a new UTC day starts full, and PerDay 0 is unlimited.
func TestBudget(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	l := quotatest.NewMemory()
	b := quota.Budget{Ledger: l, Resource: quota.ResourceOCRPages, PerDay: 10, Now: func() time.Time { return now }}
	if got := b.Day(now); got != "ocr_pages@2026-12-02" {
		t.Errorf("Day = %q", got)
	}
	res, err := b.Reserve(ctx, "7", 6, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if left, err := b.Remaining(ctx, "7"); err != nil || left != 4 {
		t.Errorf("Remaining with 6 reserved = %d, %v; want 4", left, err)
	}
	if _, err := b.Reserve(ctx, "7", 5, time.Hour); !errors.Is(err, quota.ErrExceeded) {
		t.Errorf("Reserve past the day's allowance: %v, want ErrExceeded", err)
	}
	if err := b.Commit(ctx, res, 6); err != nil {
		t.Fatal(err)
	}
	if left, _ := b.Remaining(ctx, "8"); left != 10 {
		t.Errorf("another subject has %d left, want 10", left)
	}
	now = now.Add(2 * time.Hour) // the next UTC day
	if left, err := b.Remaining(ctx, "7"); err != nil || left != 10 {
		t.Errorf("Remaining on the next day = %d, %v; want 10", left, err)
	}
	if _, err := b.Reserve(ctx, "7", 10, time.Hour); err != nil {
		t.Errorf("the next day's full allowance: %v", err)
	}

	free := quota.Budget{Ledger: l, Resource: quota.ResourceOCRPages}
	if res, err := free.Reserve(ctx, "7", 1<<40, time.Hour); err != nil || res.ID != "" || !free.Unlimited() {
		t.Errorf("unlimited Reserve = %+v, %v", res, err)
	}
	if left, err := free.Remaining(ctx, "7"); err != nil || left != -1 {
		t.Errorf("unlimited Remaining = %d, %v", left, err)
	}
}
