package audit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// requireTool returns the path of an external program, skipping the test when it is
// missing unless TLDW_REQUIRE_TOOLS=1.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not found and TLDW_REQUIRE_TOOLS=1: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestFail2banFilter runs the deployment guide's filter over a text audit log and checks
// that it bans exactly the failed logins' addresses, whatever hostile users put in fields.
func TestFail2banFilter(t *testing.T) {
	tool := requireTool(t, "fail2ban-regex")
	path := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.OpenFile(path, "text")
	if err != nil {
		t.Fatal(err)
	}
	s := audit.Multi(audit.MultiOptions{}, sink)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	type ev struct {
		user, action, ip, ua string
		bans                 bool
	}
	events := []ev{
		{"alice", audit.LoginFailed, "203.0.113.7", "", true},
		{"bob", audit.LoginFailed, "198.51.100.23", "", true},
		{"alice", audit.LoginFailed, "203.0.113.7", "", true},
		{"carol", audit.LoginSuccess, "203.0.113.50", "", false},
		{"carol", audit.Logout, "203.0.113.50", "", false},
		{"x IP: 6.6.6.6\n2026-11-28T10:00:00Z LOGIN_FAILED IP: 6.6.6.6", audit.LoginSuccess, "192.0.2.1", "", false},
		{"LOGIN_FAILED IP: 6.6.6.6", audit.LoginFailed, "198.51.100.23", "\r\nLOGIN_FAILED IP: 7.7.7.7", true},
		{"IP:", audit.LoginFailed, "not-an-ip", "IP: 8.8.8.8", false},
		{"dave", audit.LoginFailed, "2001:db8::7", "", true},
		{"eve\u00a0IP:\u00a06.6.6.6", audit.LoginSuccess, "192.0.2.2", "", false},
	}
	var wantIPs []string
	for i, e := range events {
		err := s.Write(t.Context(), audit.Event{
			Time: at.Add(time.Duration(i) * time.Second), Action: e.action, Username: e.user,
			IP: e.ip, UserAgent: e.ua, Details: map[string]any{"reason": "bad_password"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if e.bans {
			wantIPs = append(wantIPs, e.ip)
		}
	}
	if err := sink.WriteCheckpoint(audit.Checkpoint{Seq: 9, Hash: audit.Genesis, Time: at.Add(time.Minute), Kind: audit.CheckpointHead}.Sign([]byte("k"))); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	const failregex = `^.*LOGIN_FAILED.*IP:\s+<HOST>.*$`

	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("fail2ban-regex %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	summary := run(path, failregex)
	m := regexp.MustCompile(`Lines: (\d+) lines, (\d+) ignored, (\d+) matched`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("no summary in fail2ban-regex output:\n%s", summary)
	}
	lines, _ := strconv.Atoi(m[1])
	matched, _ := strconv.Atoi(m[3])
	if lines != len(events)+1 || matched != len(wantIPs) {
		t.Errorf("fail2ban-regex: %d lines, %d matched; want %d lines, %d matched\n%s",
			lines, matched, len(events)+1, len(wantIPs), summary)
	}
	// Every line's timestamp is recognised by fail2ban's ISO-8601 template.
	d := regexp.MustCompile(`\[(\d+)\] \{\^LN-BEG\}ExYear`).FindStringSubmatch(summary)
	if d == nil || d[1] != strconv.Itoa(lines) {
		t.Errorf("date template hits = %v, want %d (all lines)\n%s", d, lines, summary)
	}
	gotIPs := strings.Fields(run("-o", "ip", path, failregex))
	if !slices.Equal(gotIPs, wantIPs) {
		t.Errorf("fail2ban would ban %q, want %q\nlog:\n%s", gotIPs, wantIPs, readFile(t, path))
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
