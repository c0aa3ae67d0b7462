package audit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
)

func entries(es ...audit.Entry) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func TestWriteExport(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	es := []audit.Entry{
		{ID: 1, Record: audit.Record{Seq: 1, Event: audit.Event{Time: at, Action: audit.LoginFailed, Username: "=cmd|' /C calc'!A0", IP: "203.0.113.7"}}},
		{ID: 2, Record: audit.Record{Seq: 2, Event: audit.Event{Time: at, Action: audit.Logout, UserID: 7, TargetType: "session", TargetID: "3", Details: map[string]any{"n": 1}}}},
	}
	var b bytes.Buffer
	if err := audit.WriteExport(&b, "csv", entries(es...)); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") {
		t.Fatalf("csv rows %q %v", rows, err)
	}
	if rows[1][4] != "'=cmd|' /C calc'!A0" || rows[2][3] != "7" || rows[2][15] != `{"n":1}` {
		t.Errorf("csv cells %q", rows[1:])
	}

	b.Reset()
	if err := audit.WriteExport(&b, "jsonl", entries(es...)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var v audit.View
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &v) != nil || v.Resource != "session:3" || *v.UserID != 7 {
		t.Errorf("jsonl %q", b.String())
	}

	for n, want := range map[int]int{0: 0, 2: 2} {
		b.Reset()
		if err := audit.WriteExport(&b, "json", entries(es[:n]...)); err != nil {
			t.Fatal(err)
		}
		var arr []audit.View
		if err := json.Unmarshal(b.Bytes(), &arr); err != nil || len(arr) != want {
			t.Errorf("json of %d entries: %q %v", n, b.String(), err)
		}
	}
	if err := audit.WriteExport(&b, "xml", entries()); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
}
