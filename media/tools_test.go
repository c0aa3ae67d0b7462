package media_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
)

func TestDetectTools(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "banner")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'banner tool version 1.2.3-rc1 (built today)' >&2\necho second line >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := media.DetectTools(t.Context(),
		media.Tool{Name: script, Package: "banner-pkg", Version: []string{"-v"}},
		media.Tool{Name: "tldw-no-such-tool", Package: "nothing-pkg", Version: []string{"-v"}},
		media.Tool{Name: "false", Package: "coreutils"},
	)
	if len(got) != 3 {
		t.Fatalf("got %d statuses", len(got))
	}
	if s := got[0]; !s.Found || s.Version != "1.2.3-rc1" || s.Path != script || s.Package != "banner-pkg" {
		t.Errorf("version on stderr: %+v", s)
	}
	if s := got[1]; s.Found || s.Path != "" || !strings.Contains(s.Error, "install the nothing-pkg package") {
		t.Errorf("missing tool: %+v", s)
	}
	if s := got[2]; s.Found || !strings.Contains(s.Error, "version check failed") {
		t.Errorf("failing version command: %+v", s)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s := media.DetectTools(ctx, media.Tool{Name: script})[0]; s.Found || !strings.Contains(s.Error, "not checked") {
		t.Errorf("cancelled: %+v", s)
	}
}

// TestKnownTools checks the real programs: each installed one reports a version; with
// TLDW_REQUIRE_TOOLS=1 every one must be installed.
func TestKnownTools(t *testing.T) {
	tools := media.KnownTools()
	names := map[string]bool{}
	for _, tl := range tools {
		names[tl.Name] = true
	}
	for _, want := range []string{"pdftotext", "pdfinfo", "pdftoppm", "tesseract", "pandoc", "ffmpeg", "ffprobe", "qpdf", "prlimit"} {
		if !names[want] {
			t.Errorf("KnownTools lacks %s", want)
		}
	}
	numeric := regexp.MustCompile(`^[0-9]+(\.[0-9]+)+`)
	for _, s := range media.DetectTools(t.Context(), tools...) {
		switch {
		case s.Found && !numeric.MatchString(s.Version):
			t.Errorf("%s: version %q", s.Name, s.Version)
		case !s.Found && os.Getenv("TLDW_REQUIRE_TOOLS") == "1":
			t.Errorf("%s not usable and TLDW_REQUIRE_TOOLS=1: %s", s.Name, s.Error)
		case !s.Found:
			t.Logf("%s: %s", s.Name, s.Error)
		}
	}
}
