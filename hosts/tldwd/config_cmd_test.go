package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A line broken by `openssl rand -base64 64`'s wrapping must not make the error quote the
// rest of the file: errors name the line and key only.
func TestEnvFileParseErrorHidesValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "broken.env")
	body := "LOG_LEVEL=INFO\nJWT_SECRET_KEY=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy\nq+uX/7Zm9vYmFyYmF6==\n" +
		"TLDW_ADMIN_PASSWORD=Top-Secret-Admin-Pw-1\nREDIS_URL=redis://:redis-pw-42@cache:6379/0\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check-config", "serve"} {
		code, out, errs := runCLI(t, map[string]string{"TLDW_DATA_DIR": dir}, "--env-file", file, cmd)
		if code != 2 {
			t.Fatalf("%s exit %d, want 2: %s", cmd, code, errs)
		}
		for _, secret := range []string{"Zm9v", "q+uX", "Top-Secret", "redis-pw-42"} {
			if strings.Contains(out+errs, secret) {
				t.Errorf("%s printed %q:\n%s%s", cmd, secret, out, errs)
			}
		}
		if want := "line 3 is not KEY=VALUE (it follows JWT_SECRET_KEY on line 2"; !strings.Contains(errs, want) {
			t.Errorf("%s error %q, want it to contain %q", cmd, errs, want)
		}
	}

	// A bad line that has a key is named by its key.
	if err := os.WriteFile(file, []byte("LOG_LEVEL=INFO\nAUDIT_HMAC_KEY=\"unterminated-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, errs := runCLI(t, map[string]string{"TLDW_DATA_DIR": dir}, "--env-file", file, "check-config")
	if !strings.Contains(errs, "line 2 (AUDIT_HMAC_KEY) cannot be parsed") || strings.Contains(errs, "unterminated-secret") {
		t.Errorf("error %q", errs)
	}
}

// Typos and keys tldw does not support are warned about, at start and in check-config.
func TestEnvFileUnknownKeysWarn(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "typo.env")
	body := "ENABLE_REGISTRATON=true\nSENTRY_DSN=https://key@sentry.example/1\nNEW_RELIC_LICENSE_KEY=nr-license\nTOTALLY_UNRELATED=1\nLOG_LEVEL=ERROR\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TLDW_DATA_DIR": dir, "CACHE_TTL_SECONDS": "300"}
	code, out, errs := runCLI(t, env, "--env-file", file, "check-config")
	if code != 0 {
		t.Fatalf("check-config exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"warning: ENABLE_REGISTRATON in the env file is not a tldw configuration key and is ignored; did you mean ENABLE_REGISTRATION?",
		"warning: SENTRY_DSN is not supported and has no effect",
		"warning: NEW_RELIC_LICENSE_KEY is not supported and has no effect",
		"warning: CACHE_TTL_SECONDS is not supported and has no effect",
		"warning: TOTALLY_UNRELATED in the env file is not a tldw configuration key and is ignored\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("check-config stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(out+errs, "nr-license") || strings.Contains(out+errs, "key@sentry") {
		t.Errorf("a value was printed:\n%s%s", out, errs)
	}
	if strings.Contains(errs, "LOG_LEVEL") {
		t.Errorf("a known key was warned about:\n%s", errs)
	}

	// serve reads the configuration the same way (loadConfig), so it warns too, including
	// Config.Warnings.
	s := startServer(t, map[string]string{"TLDW_DATA_DIR": dir, "SENTRY_DSN": "x", "LOG_LEVEL": "ERROR", "RATE_LIMIT_ENABLED": "false"})
	if errs := s.stderr.String(); !strings.Contains(errs, "warning: SENTRY_DSN is not supported") || !strings.Contains(errs, "warning: RATE_LIMIT_ENABLED=false") {
		t.Errorf("serve stderr lacks the warnings:\n%s", errs)
	}
}

// check-config never prints a password embedded in a URL key.
func TestCheckConfigRedactsURLCredentials(t *testing.T) {
	env := map[string]string{
		"TLDW_DATA_DIR": t.TempDir(),
		"REDIS_URL":     "redis://:redis-url-secret@cache:6379/0",
		"DATABASE_URL":  "postgres://u:db-url-secret@db/tldw",
	}
	code, out, errs := runCLI(t, env, "check-config")
	if code != 0 {
		t.Fatalf("check-config exit %d: %s", code, errs)
	}
	if strings.Contains(out+errs, "url-secret") || !strings.Contains(out, "REDIS_URL=redis://:REDACTED@cache:6379/0\n") {
		t.Errorf("check-config output:\n%s%s", out, errs)
	}
	for _, u := range []string{"s3://AKIAEXAMPLE:s3-url-secret@bucket/prefix", "ftp://user:s3-url-secret@host/x"} {
		env["MEDIA_STORAGE_URL"] = u
		code, out, errs = runCLI(t, env, "check-config")
		if code != 2 || strings.Contains(out+errs, "url-secret") || !strings.Contains(errs, ":REDACTED@") {
			t.Errorf("MEDIA_STORAGE_URL=%s: exit %d, output:\n%s%s", u, code, out, errs)
		}
	}
}
