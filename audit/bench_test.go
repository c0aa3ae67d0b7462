package audit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// benchRecords builds a chain of n typical rows.
func benchRecords(n int) []audit.Record {
	recs := make([]audit.Record, n)
	prev := audit.Genesis
	for i := range recs {
		e := audit.Redact(audit.Event{
			Time:   time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
			UserID: int64(i%100 + 1), Username: fmt.Sprintf("user%d", i%100), Action: audit.LoginSuccess,
			Success: true, IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
			RequestID: fmt.Sprintf("req-%d", i), Method: "POST", Path: "/api/v1/auth/login",
			Details: map[string]any{"session_id": i, "mfa": false},
		})
		recs[i] = audit.Record{Seq: int64(i + 1), Event: e, PrevHash: prev, Hash: audit.Hash(prev, e)}
		prev = recs[i].Hash
	}
	return recs
}

// BenchmarkVerify reports the cost of verifying one row (ns/op is ns/row).
func BenchmarkVerify(b *testing.B) {
	recs := benchRecords(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := audit.Verify(b.Context(), seq(recs), nil, nil)
	if err != nil || !rep.OK || rep.Checked != int64(b.N) {
		b.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// BenchmarkHash reports the cost of chaining one event.
func BenchmarkHash(b *testing.B) {
	e := benchRecords(1)[0].Event
	b.ReportAllocs()
	for b.Loop() {
		audit.Hash(audit.Genesis, e)
	}
}

// BenchmarkRedact reports the per-event cost Multi adds before writing.
func BenchmarkRedact(b *testing.B) {
	e := benchRecords(1)[0].Event
	b.ReportAllocs()
	for b.Loop() {
		audit.Redact(e)
	}
}
