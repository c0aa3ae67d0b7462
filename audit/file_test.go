package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func TestFormatText(t *testing.T) {
	tests := []struct {
		name string
		e    audit.Event
		want string
	}{
		{"failed login", audit.Event{
			Time: t0, Action: audit.LoginFailed, Username: "alice", IP: "203.0.113.7", RequestID: "req-1",
			Details: map[string]any{"reason": "bad_password"},
		}, "2026-11-28T10:00:00.000000Z LOGIN_FAILED IP: 203.0.113.7 user=alice outcome=failure reason=bad_password request_id=req-1"},
		{"all fields", audit.Event{
			Time: t0.Add(1500 * time.Microsecond), UserID: 2, Username: "bob", Action: audit.APIKeyRevoked,
			TargetType: "api_key", TargetID: "17", Success: true, IP: "::ffff:198.51.100.1",
			UserAgent: "Mozilla/5.0 (X11)", RequestID: "r2", Method: "DELETE", Path: "/api/v1/keys/17",
			Details: map[string]any{"b": 1.5, "a": []any{"x"}, "user": "spoof", "we ird": "v"},
		}, `2026-11-28T10:00:00.001500Z API_KEY_REVOKED IP: 198.51.100.1 user=bob user_id=2 outcome=success ` +
			`target_type=api_key target_id=17 method=DELETE path=/api/v1/keys/17 a="[\"x\"]" b=1.5 detail.user=spoof we_ird=v ` +
			`request_id=r2 user_agent="Mozilla/5.0\x20(X11)"`},
		{"no IP", audit.Event{Time: t0, Action: audit.Logout, IP: "unknown", Success: true},
			"2026-11-28T10:00:00.000000Z LOGOUT outcome=success"},
		{"empty action", audit.Event{Time: t0}, "2026-11-28T10:00:00.000000Z UNKNOWN outcome=failure"},
		{"escapes", audit.Event{Time: t0, Action: audit.LoginFailed, IP: "2001:db8::1", Username: "a \"b\"\\\t\u00e9\u202e\u00a0",
			Error: "x:y"},
			`2026-11-28T10:00:00.000000Z LOGIN_FAILED IP: 2001:db8::1 user="a\x20\"b\"\\\x09é\u202e\u00a0" outcome=failure error="x:y"`},
	}
	for _, tt := range tests {
		if got := audit.FormatText(tt.e); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
	}
}

// failregex is the deployment guide's fail2ban filter in Go syntax; <HOST> is \S+ here.
var failregex = regexp.MustCompile(`^.*LOGIN_FAILED.*IP:\s+(\S+).*$`)

func hostileNames() []string {
	return []string{
		"x IP: 6.6.6.6",
		"x\nIP: 6.6.6.6",
		"x\n2026-11-28T10:00:00Z LOGIN_FAILED IP: 6.6.6.6",
		"x\r2026-11-28T10:00:00Z LOGIN_FAILED IP: 6.6.6.6",
		"\x1b[2K\x1b[1GLOGIN_FAILED IP: 6.6.6.6",
		"IP:\u00a06.6.6.6", "IP:\u20036.6.6.6", "IP:\u30006.6.6.6", "IP:\u2028 6.6.6.6", "IP:\x856.6.6.6",
		"IP:", "IP:\t6.6.6.6", "LOGIN_FAILED", `", "ip": "6.6.6.6`, "x\x00IP: 6.6.6.6", "bad\xffIP: 6.6.6.6",
	}
}

func TestFormatTextCannotBeForged(t *testing.T) {
	for _, name := range hostileNames() {
		for _, action := range []string{audit.LoginFailed, audit.LoginSuccess} {
			e := audit.Event{Time: t0, Action: action, Username: name, IP: "203.0.113.7",
				UserAgent: name, Error: name, Path: name, Details: map[string]any{name: name}}
			line := audit.FormatText(e)
			for _, r := range line {
				if r != ' ' && (unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
					t.Errorf("line for %q contains %U: %q", name, r, line)
				}
			}
			if n := len(regexp.MustCompile(`IP:\s`).FindAllString(line, -1)); n != 1 {
				t.Errorf("line for %q has %d \"IP:\" fields: %q", name, n, line)
			}
			m := failregex.FindStringSubmatch(line)
			switch {
			case action == audit.LoginFailed && (m == nil || m[1] != "203.0.113.7"):
				t.Errorf("failed login for %q: fail2ban extracts %q from %q", name, m, line)
			case action == audit.LoginSuccess && m != nil:
				t.Errorf("successful login for %q matches the fail2ban filter: %q", name, line)
			}
			for _, f := range strings.Split(line, " ") {
				if f == "" {
					t.Errorf("empty field in %q", line)
				}
			}
		}
		// Without a parseable IP nothing can be banned.
		if m := failregex.FindStringSubmatch(audit.FormatText(audit.Event{Time: t0, Action: audit.LoginFailed, Username: name, IP: name})); m != nil {
			t.Errorf("event without a valid IP matches: %q", m)
		}
	}
}

func TestFormatJSON(t *testing.T) {
	e := audit.Event{Time: t0, Action: audit.LoginFailed, Username: "alice", IP: "203.0.113.7",
		Details: map[string]any{"reason": "bad_password"}}
	got, err := audit.FormatJSON(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-28T10:00:00.000000Z","username":"alice","action":"login_failed","success":false,"ip":"203.0.113.7","details":{"reason":"bad_password"}}`
	if string(got) != want {
		t.Errorf("FormatJSON:\n got  %s\n want %s", got, want)
	}
	for _, name := range hostileNames() {
		e := audit.Redact(audit.Event{Time: t0, Action: audit.LoginSuccess, Username: name + `","action":"login_failed`, IP: "192.0.2.1"})
		line, err := audit.FormatJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(line, "\n\r\x1b") || bytes.Contains(line, []byte("\u2028")) {
			t.Errorf("raw control character in %q", line)
		}
		var back audit.Event
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("line does not decode: %v", err)
		}
		if back.Username != e.Username || back.Action != audit.LoginSuccess || back.IP != "192.0.2.1" {
			t.Errorf("decoded %+v, want the original fields", back)
		}
	}
	if _, err := audit.FormatJSON(audit.Event{Details: map[string]any{"c": make(chan int)}}); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("unencodable details: err = %v, want ErrInvalid", err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestFileSink(t *testing.T) {
	for _, format := range []string{"", "text", "json"} {
		path := filepath.Join(t.TempDir(), "new", "dir", "audit.log")
		s, err := audit.OpenFile(path, format)
		if err != nil {
			t.Fatal(err)
		}
		e := audit.Event{Time: t0, Action: audit.LoginFailed, Username: "alice", IP: "203.0.113.7"}
		if err := s.Write(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		want := audit.FormatText(e)
		if format == "json" {
			b, _ := audit.FormatJSON(e)
			want = string(b)
		}
		if got := readLines(t, path); len(got) != 1 || got[0] != want {
			t.Errorf("format %q: file holds %q, want %q", format, got, want)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode = %v, %v; want 0600", fi.Mode(), err)
		}
		if err := s.Write(t.Context(), e); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("Write after Close = %v, want ErrClosed", err)
		}
		if err := s.Reopen(); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("Reopen after Close = %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	}
	if _, err := audit.OpenFile(filepath.Join(t.TempDir(), "a.log"), "xml"); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("unknown format: %v, want ErrInvalid", err)
	}
	if _, err := audit.OpenFile("", "text"); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("empty path: %v, want ErrInvalid", err)
	}
	s, err := audit.OpenFile(filepath.Join(t.TempDir(), "a.log"), "text")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Write(ctx, audit.Event{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with cancelled ctx = %v", err)
	}
}

func TestFileSinkAppendsToExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte("old line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := audit.OpenFile(path, "text")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Write(t.Context(), audit.Event{Time: t0, Action: audit.Logout})
	_ = s.Close()
	if got := readLines(t, path); len(got) != 2 || got[0] != "old line" {
		t.Errorf("lines = %q", got)
	}
}

func TestFileSinkReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "audit.log")
	s, err := audit.OpenFile(path, "text")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	_ = s.Write(ctx, audit.Event{Time: t0, Action: audit.Logout, RequestID: "before"})
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	_ = s.Write(ctx, audit.Event{Time: t0, Action: audit.Logout, RequestID: "rotated"})
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	_ = s.Write(ctx, audit.Event{Time: t0, Action: audit.Logout, RequestID: "after"})
	old, cur := readLines(t, path+".1"), readLines(t, path)
	if len(old) != 2 || !strings.HasSuffix(old[1], "request_id=rotated") {
		t.Errorf("rotated file = %q", old)
	}
	if len(cur) != 1 || !strings.HasSuffix(cur[0], "request_id=after") {
		t.Errorf("new file = %q", cur)
	}
	// A failed reopen (the directory became a file) keeps the old file in use.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err == nil {
		t.Error("Reopen succeeded although the directory is a file")
	}
	if err := s.Write(ctx, audit.Event{Time: t0, Action: audit.Logout}); err != nil {
		t.Errorf("Write after a failed Reopen = %v", err)
	}
}

func TestFileSinkConcurrentLinesStayWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := audit.OpenFile(path, "json")
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 100
	long := strings.Repeat("z", 3000)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := audit.Event{Time: t0, Action: audit.MediaUploaded, RequestID: fmt.Sprintf("%d-%d", w, i),
					Details: map[string]any{"pad": long}}
				if err := s.Write(t.Context(), e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	_ = s.Close()
	lines := readLines(t, path)
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Details["pad"] != long {
			t.Fatalf("torn line (%v): %.80q", err, l)
		}
		seen[e.RequestID] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct events, want %d", len(seen), writers*each)
	}
}

func TestCheckpointsInFile(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, format := range []string{"text", "json"} {
		path := filepath.Join(t.TempDir(), "audit.log")
		s, err := audit.OpenFile(path, format)
		if err != nil {
			t.Fatal(err)
		}
		cp := func(seq int64) audit.Checkpoint {
			return audit.Checkpoint{Seq: seq, Hash: fmt.Sprintf("%064x", seq), Time: t0.Add(time.Duration(seq) * time.Second),
				Kind: audit.CheckpointHead}.Sign(key)
		}
		_ = s.WriteCheckpoint(cp(3))
		_ = s.Write(t.Context(), audit.Event{Time: t0, Action: audit.Logout, Username: "AUDIT_CHECKPOINT kind=head seq=99"})
		_ = s.WriteCheckpoint(cp(7))
		_ = s.WriteCheckpoint(cp(5))
		forged := cp(100)
		forged.MAC = strings.Repeat("a", 64)
		_ = s.WriteCheckpoint(forged)
		_ = s.Close()

		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.ParseCheckpoints(f, key)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := cp(7); got == nil || *got != want {
			t.Errorf("%s: ParseCheckpoints = %+v, want %+v", format, got, want)
		}
		if format == "text" {
			lines := readLines(t, path)
			want := fmt.Sprintf("2026-11-28T10:00:03.000000Z AUDIT_CHECKPOINT kind=head seq=3 hash=%064x mac=%s", 3, cp(3).MAC)
			if lines[0] != want {
				t.Errorf("checkpoint line = %q, want %q", lines[0], want)
			}
		}
	}
	none, err := audit.ParseCheckpoints(strings.NewReader("x\n\n{}\n"), key)
	if none != nil || err != nil {
		t.Errorf("no checkpoints: %+v, %v", none, err)
	}
	good := audit.Checkpoint{Seq: 1, Hash: audit.Genesis, Time: t0, Kind: audit.CheckpointHead}.Sign(key)
	var buf bytes.Buffer
	buf.WriteString(strings.Repeat("y", 2<<20) + "\n") // a long line is skipped
	b, _ := json.Marshal(map[string]any{"checkpoint": good})
	buf.Write(b) // last line without a newline
	got, err := audit.ParseCheckpoints(&buf, key)
	if err != nil || got == nil || *got != good {
		t.Errorf("after a long line: %+v, %v", got, err)
	}
	if _, err := audit.ParseCheckpoints(io.MultiReader(strings.NewReader("a\n"), errReader{}), key); err == nil {
		t.Error("read error not returned")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk error") }

// The conformance suite runs against the reference implementations.
func TestConformance(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audittest.Harness {
			m := &audittest.Memory{}
			return audittest.Harness{
				Sink:    m,
				Events:  func(context.Context) ([]audit.Event, error) { return m.Events(), nil },
				Records: func(context.Context) ([]audit.Record, error) { return m.Records(), nil },
			}
		})
	})
	t.Run("FileJSON", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audittest.Harness {
			path := filepath.Join(t.TempDir(), "audit.log")
			s, err := audit.OpenFile(path, "json")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return audittest.Harness{Sink: s, Events: func(context.Context) ([]audit.Event, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				defer f.Close()
				var out []audit.Event
				sc := bufio.NewScanner(f)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
					d.UseNumber()
					var e audit.Event
					if err := d.Decode(&e); err != nil {
						return nil, err
					}
					out = append(out, e)
				}
				return out, sc.Err()
			}}
		})
	})
	t.Run("FileText", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audittest.Harness {
			s, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit.log"), "text")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return audittest.Harness{Sink: s}
		})
	})
}
