package audit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
)

func ExampleMulti() {
	mem := &audittest.Memory{} // stands in for the database and file sinks
	sink := audit.Multi(audit.MultiOptions{Timeout: 2 * time.Second}, mem)

	_ = sink.Write(context.Background(), audit.Event{
		Action:   "auth.login.failure", // a tldw_server alias
		Username: "alice",
		IP:       "::ffff:203.0.113.7",
		Details:  map[string]any{"password": "hunter2", "reason": "bad_password"},
	})
	e := mem.Events()[0]
	fmt.Println(e.Action, e.IP, e.Details["password"], e.Details["reason"])
	// Output: login_failed 203.0.113.7 [REDACTED] bad_password
}

func ExampleFormatText() {
	fmt.Println(audit.FormatText(audit.Event{
		Time:      time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		Action:    audit.LoginFailed,
		Username:  "mallory\nLOGIN_FAILED IP: 6.6.6.6",
		IP:        "203.0.113.7",
		RequestID: "r1",
		Details:   map[string]any{"reason": "bad_password"},
	}))
	// Output: 2026-11-28T10:00:00.000000Z LOGIN_FAILED IP: 203.0.113.7 user="mallory\x0aLOGIN_FAILED\x20IP:\x206.6.6.6" outcome=failure reason=bad_password request_id=r1
}

func ExampleVerify() {
	key := []byte("an HMAC key kept like the JWT key")
	mem := &audittest.Memory{}
	for _, a := range []string{audit.LoginSuccess, audit.APIKeyCreated, audit.Logout} {
		_ = mem.Write(context.Background(), audit.Redact(audit.Event{Action: a, UserID: 1}))
	}
	recs := mem.Records()
	head := audit.Checkpoint{Seq: 3, Hash: recs[2].Hash, Time: time.Now(), Kind: audit.CheckpointHead}.Sign(key)

	// Someone deletes the newest row.
	rows := func(yield func(audit.Record, error) bool) {
		for _, r := range recs[:2] {
			if !yield(r, nil) {
				return
			}
		}
	}
	if !head.Valid(key) {
		panic("forged checkpoint")
	}
	rep, err := audit.Verify(context.Background(), rows, nil, &head)
	fmt.Println(rep.OK, rep.Checked, rep.Break.Kind, rep.Break.Seq, err)
	// Output: false 2 truncated 3 <nil>
}
