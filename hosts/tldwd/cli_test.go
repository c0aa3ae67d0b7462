package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAccountCommands drives `tldwd user`, `tldwd code`, `tldwd quota` and `tldwd audit`
// against one database, without a server.
func TestAccountCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TLDW_DATA_DIR": dir, "LOG_LEVEL": "ERROR"}
	run := func(args ...string) (int, string, string) { return runCLI(t, env, args...) }

	code, out, errs := run("user", "create", "--username", "alice", "--email", "alice@example.com")
	if code != 0 || !strings.Contains(out, "created user") || !strings.Contains(out, "password: ") {
		t.Fatalf("user create = %d %q %q", code, out, errs)
	}
	generated := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)[1]
	if code, _, _ = run("user", "create", "--username", "ALICE", "--email", "other@example.com"); code != 1 {
		t.Errorf("duplicate username (case-insensitive) exit %d", code)
	}
	if code, out, errs = run("user", "create", "--username", "bob", "--email", "bob@example.com", "--password", "Brave-Falcon-92!", "--role", "moderator"); code != 0 {
		t.Fatalf("create bob = %d %q %q", code, out, errs)
	}
	if code, _, errs = run("user", "create", "--username", "weak", "--email", "weak@example.com", "--password", "password"); code != 1 || !strings.Contains(errs, "password") {
		t.Errorf("weak password = %d %q", code, errs)
	}
	code, out, _ = run("user", "list")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "moderator") {
		t.Errorf("user list = %d %q", code, out)
	}
	if code, out, _ = run("user", "set-role", "alice", "admin"); code != 0 || !strings.Contains(out, "admin") {
		t.Errorf("set-role = %d %q", code, out)
	}
	if code, out, errs = run("user", "set-audio-tier", "bob", "premium"); code != 0 || !strings.Contains(out, "bob now has audio tier premium") {
		t.Errorf("set-audio-tier = %d %q %q", code, out, errs)
	}
	if code, out, _ = run("user", "list", "--search", "bob"); code != 0 || !strings.Contains(out, "premium") {
		t.Errorf("user list lacks bob's tier: %q", out)
	}
	if code, _, errs = run("user", "set-audio-tier", "bob", "platinum"); code != 1 || !strings.Contains(errs, "free, premium, standard") {
		t.Errorf("unknown audio tier = %d %q", code, errs)
	}
	if code, out, _ = run("user", "set-audio-tier", "bob"); code != 0 || !strings.Contains(out, "the default tier") {
		t.Errorf("set-audio-tier to the default = %d %q", code, out)
	}
	if code, out, _ = run("user", "list", "--search", "bob"); code != 0 || strings.Contains(out, "premium") {
		t.Errorf("bob kept his tier: %q", out)
	}
	if code, out, errs = run("user", "create", "--username", "carl", "--email", "carl@example.com", "--audio-tier", "standard"); code != 0 {
		t.Errorf("create with --audio-tier = %d %q %q", code, out, errs)
	}
	if code, out, _ = run("user", "list", "--search", "carl"); code != 0 || !strings.Contains(out, "standard") {
		t.Errorf("carl's tier: %q", out)
	}
	if code, _, _ = run("user", "create", "--username", "dora", "--email", "dora@example.com", "--audio-tier", "gold"); code != 1 {
		t.Errorf("create with an unknown --audio-tier exit %d", code)
	}
	if code, _, _ = run("user", "set-role", "alice", "emperor"); code != 1 {
		t.Errorf("unknown role exit %d", code)
	}
	if code, _, _ = run("user", "deactivate", "bob"); code != 0 {
		t.Errorf("deactivate = %d", code)
	}
	if code, out, _ = run("user", "list", "--search", "bob"); code != 0 || !strings.Contains(out, "false") {
		t.Errorf("bob still active: %q", out)
	}
	if code, _, _ = run("user", "activate", "bob"); code != 0 {
		t.Errorf("activate = %d", code)
	}
	if code, _, _ = run("user", "unlock", "bob"); code != 0 {
		t.Errorf("unlock = %d", code)
	}
	if code, out, _ = run("user", "set-password", "alice"); code != 0 || !strings.Contains(out, "password: ") || strings.Contains(out, generated) {
		t.Errorf("set-password = %d %q", code, out)
	}
	if code, _, _ = run("user", "set-role", "nobody", "user"); code != 1 {
		t.Errorf("unknown user exit %d", code)
	}

	code, out, _ = run("code", "create", "--max-uses", "3", "--expiry-days", "2", "--count", "2")
	codes := regexp.MustCompile(`(?m)^([A-Z0-9]{24})  id=(\d+)`).FindAllStringSubmatch(out, -1)
	if code != 0 || len(codes) != 2 {
		t.Fatalf("code create = %d %q", code, out)
	}
	if code, out, _ = run("code", "list"); code != 0 || !strings.Contains(out, codes[0][1]) || !strings.Contains(out, "0/3") {
		t.Errorf("code list = %d %q", code, out)
	}
	if code, _, _ = run("code", "revoke", codes[0][2]); code != 0 {
		t.Errorf("code revoke = %d", code)
	}
	if code, out, _ = run("code", "list"); code != 0 || strings.Contains(out, codes[0][1]) {
		t.Errorf("revoked code still listed as active: %q", out)
	}
	if code, out, _ = run("code", "list", "--all"); code != 0 || !strings.Contains(out, codes[0][1]) {
		t.Errorf("code list --all = %q", out)
	}

	if code, out, errs = run("quota", "reconcile"); code != 0 || !strings.Contains(out, "USER") {
		t.Errorf("quota reconcile = %d %q %q", code, out, errs)
	}
	if code, out, _ = run("audit", "verify"); code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify = %d %q", code, out)
	}
	file := filepath.Join(dir, "audit.csv")
	if code, _, errs = run("audit", "export", "--format", "csv", "--action", "user_*", "--out", file); code != 0 {
		t.Fatalf("audit export = %d %q", code, errs)
	}
	if code, out, _ = run("audit", "export", "--format", "jsonl", "--action", "role_changed"); code != 0 || !strings.Contains(out, `"action":"role_changed"`) {
		t.Errorf("audit export jsonl = %d %q", code, out)
	}
	if code, _, _ = run("audit", "export", "--format", "xml"); code != 1 {
		t.Errorf("bad export format exit %d", code)
	}
}
