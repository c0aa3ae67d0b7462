package quotatest_test

import (
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
)

func TestMemLedger(t *testing.T) {
	quotatest.TestLedger(t, func(t *testing.T, now func() time.Time) quota.Ledger {
		l := quotatest.NewMemory()
		l.Now = now
		return l
	})
}

func TestMemLedgerZeroValue(t *testing.T) {
	var l quotatest.MemLedger // ready to use, on the real clock
	before := time.Now()
	res, err := l.Reserve(t.Context(), "alice", quota.ResourceStorage, 1, time.Minute)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if res.ExpiresAt.Before(before.Add(time.Minute)) || res.ExpiresAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("ExpiresAt = %v, want about a minute from now", res.ExpiresAt)
	}
}
