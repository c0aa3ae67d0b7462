package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
)

func baseEvent() audit.Event {
	return audit.Event{
		Time: time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC), UserID: 7, Username: "alice",
		Action: audit.LoginFailed, TargetType: "user", TargetID: "7", Success: false,
		IP: "203.0.113.7", UserAgent: "ua", RequestID: "r1", Method: "POST",
		Path: "/api/v1/auth/login", Error: "bad password",
		Details: map[string]any{"reason": "bad_password", "n": 1, "nested": map[string]any{"a": []any{1.5, "x"}}},
	}
}

// decodeJSON decodes like a storage layer reading a JSON column back.
func decodeJSON(t *testing.T, s string, useNumber bool) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		d.UseNumber()
	}
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCanonicalStable(t *testing.T) {
	want := string(audit.Canonical(baseEvent()))
	variants := map[string]func(e *audit.Event){
		"JSONB key order and whitespace": func(e *audit.Event) {
			e.Details = decodeJSON(t, `{ "nested" : {"a":[1.5, "x"]},  "n":1.0, "reason":"bad_password" }`, true)
		},
		"numbers decoded as float64": func(e *audit.Event) {
			e.Details = decodeJSON(t, `{"reason":"bad_password","n":1,"nested":{"a":[1.5,"x"]}}`, false)
		},
		"exponent form": func(e *audit.Event) {
			e.Details = decodeJSON(t, `{"reason":"bad_password","n":1e0,"nested":{"a":[15e-1,"x"]}}`, true)
		},
		"time zone":          func(e *audit.Event) { e.Time = e.Time.In(time.FixedZone("X", -7*3600)) },
		"sub-microsecond":    func(e *audit.Event) { e.Time = e.Time.Add(999 * time.Nanosecond) },
		"IPv4-mapped IPv6":   func(e *audit.Event) { e.IP = "::ffff:203.0.113.7" },
		"int64 detail value": func(e *audit.Event) { e.Details["n"] = int64(1) },
	}
	for name, mutate := range variants {
		e := baseEvent()
		mutate(&e)
		if got := string(audit.Canonical(e)); got != want {
			t.Errorf("%s changed Canonical:\n got  %s\n want %s", name, got, want)
		}
	}
	for _, tm := range []time.Time{
		{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2026, 2, 3, 4, 5, 6, 7008, time.FixedZone("X", 5*3600+1800)), time.Unix(1<<40, 123456789),
	} {
		e := baseEvent()
		e.Time = tm
		want := `"` + tm.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z") + `"`
		if got := string(audit.Canonical(e)); !strings.Contains(got, want) {
			t.Errorf("Canonical of time %v = %s, want it to hold %s", tm, got, want)
		}
	}
	empty, nilDetails := baseEvent(), baseEvent()
	empty.Details, nilDetails.Details = map[string]any{}, nil
	if !bytes.Equal(audit.Canonical(empty), audit.Canonical(nilDetails)) {
		t.Error("empty and nil Details encode differently")
	}
	if !json.Valid(audit.Canonical(baseEvent())) {
		t.Errorf("Canonical is not JSON: %s", audit.Canonical(baseEvent()))
	}
}

func TestCanonicalSeesEveryField(t *testing.T) {
	base := string(audit.Canonical(baseEvent()))
	changes := map[string]func(e *audit.Event){
		"Time":        func(e *audit.Event) { e.Time = e.Time.Add(time.Microsecond) },
		"UserID":      func(e *audit.Event) { e.UserID++ },
		"Username":    func(e *audit.Event) { e.Username = "Alice" },
		"Action":      func(e *audit.Event) { e.Action = audit.LoginSuccess },
		"TargetType":  func(e *audit.Event) { e.TargetType = "session" },
		"TargetID":    func(e *audit.Event) { e.TargetID = "8" },
		"Success":     func(e *audit.Event) { e.Success = true },
		"IP":          func(e *audit.Event) { e.IP = "203.0.113.8" },
		"UserAgent":   func(e *audit.Event) { e.UserAgent = "ua2" },
		"RequestID":   func(e *audit.Event) { e.RequestID = "r2" },
		"Method":      func(e *audit.Event) { e.Method = "GET" },
		"Path":        func(e *audit.Event) { e.Path = "/x" },
		"Error":       func(e *audit.Event) { e.Error = "" },
		"detail":      func(e *audit.Event) { e.Details["n"] = 2 },
		"detail key":  func(e *audit.Event) { e.Details["N"] = e.Details["n"]; delete(e.Details, "n") },
		"detail type": func(e *audit.Event) { e.Details["n"] = "1" },
		"nested":      func(e *audit.Event) { e.Details["nested"].(map[string]any)["a"] = []any{1.5} },
		"new detail":  func(e *audit.Event) { e.Details["x"] = nil },
	}
	for name, mutate := range changes {
		e := baseEvent()
		mutate(&e)
		if string(audit.Canonical(e)) == base {
			t.Errorf("changing %s does not change Canonical", name)
		}
	}
	// Field boundaries cannot be shifted by quoting tricks.
	a, b := baseEvent(), baseEvent()
	a.Username, a.Action = `x","login_failed`, ""
	b.Username, b.Action = "x", "login_failed"
	if bytes.Equal(audit.Canonical(a), audit.Canonical(b)) {
		t.Error("a quote in one field can imitate a field boundary")
	}
}

func TestHash(t *testing.T) {
	e := baseEvent()
	h := audit.Hash(audit.Genesis, e)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("Hash = %q, want 64 hex digits", h)
	}
	if h != audit.Hash(audit.Genesis, e) {
		t.Error("Hash is not deterministic")
	}
	if h == audit.Hash(h, e) {
		t.Error("Hash ignores the previous hash")
	}
	if len(audit.Genesis) != 64 {
		t.Errorf("Genesis has %d characters", len(audit.Genesis))
	}
}

// chain builds n chained records with distinct events.
func chain(n int) []audit.Record {
	mem := &audittest.Memory{}
	for i := range n {
		e := baseEvent()
		e.Time = e.Time.Add(time.Duration(i) * time.Second)
		e.RequestID = fmt.Sprintf("r%d", i+1)
		_ = mem.Write(context.Background(), audit.Redact(e))
	}
	return mem.Records()
}

func seq(recs []audit.Record) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func without(recs []audit.Record, seqs ...int64) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		drop := false
		for _, s := range seqs {
			drop = drop || r.Seq == s
		}
		if !drop {
			out = append(out, r)
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	orig := chain(10)
	head := func(recs []audit.Record, s int64) *audit.Checkpoint {
		c := audit.Checkpoint{Seq: s, Hash: recs[s-1].Hash, Time: time.Now(), Kind: audit.CheckpointHead}.Sign(key)
		return &c
	}
	purge := &audit.Checkpoint{Seq: 5, Hash: orig[4].Hash, Kind: audit.CheckpointPurge}

	tests := []struct {
		name        string
		recs        func() []audit.Record
		start, last *audit.Checkpoint
		wantSeq     int64
		wantKind    string // "" = OK
		wantChecked int64
	}{
		{"intact", func() []audit.Record { return orig }, nil, nil, 0, "", 10},
		{"intact with head checkpoint", func() []audit.Record { return orig }, nil, head(orig, 10), 0, "", 10},
		{"older head checkpoint", func() []audit.Record { return orig }, nil, head(orig, 4), 0, "", 10},
		{"empty log", func() []audit.Record { return nil }, nil, nil, 0, "", 0},
		{"modified row", func() []audit.Record {
			r := append([]audit.Record(nil), orig...)
			r[3].Event.Username = "mallory"
			return r
		}, nil, nil, 4, audit.BreakModified, 3},
		{"modified detail", func() []audit.Record {
			r := append([]audit.Record(nil), orig...)
			r[6].Event.Details = map[string]any{"reason": "ok"}
			return r
		}, nil, nil, 7, audit.BreakModified, 6},
		{"modified and rehashed row", func() []audit.Record {
			r := append([]audit.Record(nil), orig...)
			r[3].Event.Success = true
			r[3].Hash = audit.Hash(r[3].PrevHash, r[3].Event)
			return r
		}, nil, nil, 5, audit.BreakReordered, 4},
		{"deleted middle row", func() []audit.Record { return without(orig, 5) }, nil, nil, 5, audit.BreakMissing, 4},
		{"deleted rows", func() []audit.Record { return without(orig, 5, 6, 7) }, nil, nil, 5, audit.BreakMissing, 4},
		{"deleted first row", func() []audit.Record { return without(orig, 1) }, nil, nil, 1, audit.BreakMissing, 0},
		{"swapped contents", func() []audit.Record {
			r := append([]audit.Record(nil), orig...)
			r[2], r[5] = r[5], r[2]
			r[2].Seq, r[5].Seq = 3, 6
			return r
		}, nil, nil, 3, audit.BreakReordered, 2},
		{"duplicate seq", func() []audit.Record {
			r := append([]audit.Record(nil), orig[:6]...)
			return append(r, orig[5])
		}, nil, nil, 6, audit.BreakReordered, 6},
		{"dropped tail", func() []audit.Record { return orig[:7] }, nil, head(orig, 9), 8, audit.BreakTruncated, 7},
		{"dropped everything", func() []audit.Record { return nil }, nil, head(orig, 3), 1, audit.BreakTruncated, 0},
		{"cut back and regrown", func() []audit.Record {
			regrown := append([]audit.Record(nil), orig[:7]...)
			mem := &audittest.Memory{}
			for _, r := range regrown {
				_ = mem.Write(context.Background(), r.Event)
			}
			for i := range 3 {
				e := baseEvent()
				e.RequestID = fmt.Sprintf("new%d", i)
				_ = mem.Write(context.Background(), e)
			}
			return mem.Records()
		}, nil, head(orig, 9), 9, audit.BreakTruncated, 8},
		{"from purge checkpoint", func() []audit.Record { return orig[5:] }, purge, head(orig, 10), 0, "", 5},
		{"purge checkpoint past the head checkpoint", func() []audit.Record { return orig[5:] }, purge, head(orig, 3), 0, "", 5},
		{"everything purged", func() []audit.Record { return nil }, &audit.Checkpoint{Seq: 10, Hash: orig[9].Hash}, nil, 0, "", 0},
		{"purge checkpoint with wrong hash", func() []audit.Record { return orig[5:] },
			&audit.Checkpoint{Seq: 5, Hash: orig[3].Hash}, nil, 6, audit.BreakReordered, 0},
		{"row missing after purge", func() []audit.Record { return orig[6:] }, purge, nil, 6, audit.BreakMissing, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := audit.Verify(t.Context(), seq(tt.recs()), tt.start, tt.last)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Checked != tt.wantChecked {
				t.Errorf("Checked = %d, want %d", rep.Checked, tt.wantChecked)
			}
			if tt.wantKind == "" {
				if !rep.OK || rep.Break != nil {
					t.Fatalf("report = %+v, break %+v; want OK", rep, rep.Break)
				}
				return
			}
			if rep.OK || rep.Break == nil || rep.Break.Kind != tt.wantKind || rep.Break.Seq != tt.wantSeq {
				t.Fatalf("report = %+v, break %+v; want %s at seq %d", rep, rep.Break, tt.wantKind, tt.wantSeq)
			}
			if rep.Break.Detail == "" {
				t.Error("break has no detail")
			}
		})
	}

	rep, _ := audit.Verify(t.Context(), seq(orig), nil, nil)
	if rep.From != 1 || rep.Head != 10 || rep.HeadHash != orig[9].Hash {
		t.Errorf("intact report = %+v", rep)
	}
	rep, _ = audit.Verify(t.Context(), seq(orig[5:]), purge, nil)
	if rep.From != 6 || rep.Head != 10 {
		t.Errorf("purged report = %+v", rep)
	}
}

func TestVerifyErrors(t *testing.T) {
	boom := errors.New("db gone")
	recs := chain(3)
	failing := func(yield func(audit.Record, error) bool) {
		if yield(recs[0], nil) {
			yield(audit.Record{}, boom)
		}
	}
	rep, err := audit.Verify(t.Context(), failing, nil, nil)
	if !errors.Is(err, boom) || rep.OK || rep.Checked != 1 {
		t.Errorf("Verify = %+v, %v; want the iterator's error after 1 row", rep, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := audit.Verify(ctx, seq(recs), nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Verify = %v", err)
	}
	// Verify stops pulling rows at the first break.
	bad := append([]audit.Record(nil), recs...)
	bad[0].Hash = "00"
	pulled := 0
	counting := func(yield func(audit.Record, error) bool) {
		for _, r := range bad {
			pulled++
			if !yield(r, nil) {
				return
			}
		}
	}
	if rep, _ := audit.Verify(t.Context(), counting, nil, nil); rep.OK || pulled != 1 {
		t.Errorf("pulled %d rows after a break at row 1", pulled)
	}
}

func TestCheckpointMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := audit.Checkpoint{
		Seq: 42, Hash: audit.Hash(audit.Genesis, baseEvent()), Kind: audit.CheckpointHead,
		Time: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.FixedZone("X", 3600)),
	}.Sign(key)
	if !c.Valid(key) {
		t.Fatal("signed checkpoint is not valid")
	}
	if c.Time.Location() != time.UTC || c.Time.Nanosecond() != 123456000 {
		t.Errorf("Sign did not normalise Time: %v", c.Time)
	}
	moved := c
	moved.Time = c.Time.In(time.FixedZone("Y", -3600))
	if !moved.Valid(key) {
		t.Error("a different time zone representation invalidates the MAC")
	}
	tampered := map[string]func(c *audit.Checkpoint){
		"seq":  func(c *audit.Checkpoint) { c.Seq++ },
		"hash": func(c *audit.Checkpoint) { c.Hash = audit.Genesis },
		"time": func(c *audit.Checkpoint) { c.Time = c.Time.Add(time.Microsecond) },
		"kind": func(c *audit.Checkpoint) { c.Kind = audit.CheckpointPurge },
		"mac":  func(c *audit.Checkpoint) { c.MAC = strings.Repeat("0", 64) },
		"none": func(c *audit.Checkpoint) { c.MAC = "" },
	}
	for name, mutate := range tampered {
		x := c
		mutate(&x)
		if x.Valid(key) {
			t.Errorf("checkpoint with tampered %s is valid", name)
		}
	}
	if c.Valid([]byte("another key of 32 bytes .........")) || c.Valid(nil) {
		t.Error("checkpoint valid under a wrong or empty key")
	}
	if u := (audit.Checkpoint{Seq: 1}).Sign(nil); u.MAC != "" || u.Valid(nil) {
		t.Errorf("Sign(nil) = %+v, want an unsigned checkpoint", u)
	}
}
