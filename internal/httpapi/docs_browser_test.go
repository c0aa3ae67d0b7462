package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a headless-capable Chromium, skipping the test when there is
// none (failing when TLDW_REQUIRE_TOOLS=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium not installed and TLDW_REQUIRE_TOOLS=1")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestDocsInBrowser renders /docs in headless Chromium, offline and under the page's CSP:
// Swagger UI must come up from the embedded assets and list every operation of the document.
func TestDocsInBrowser(t *testing.T) {
	bin := chromium(t)
	s := fullServer(t)
	srv := httptest.NewServer(checkedHandler(t, s))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", srv.URL+"/docs")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	if !strings.Contains(dom, `class="swagger-ui`) {
		t.Fatalf("Swagger UI did not render; DOM starts:\n%.2000s\nstderr:\n%s", dom, stderr.String())
	}

	// Every operation of the document appears once as an opblock with its method and path.
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for p, item := range doc.Paths {
		for m := range item {
			want = append(want, m+" "+p)
		}
	}
	re := regexp.MustCompile(`<div class="opblock opblock-([a-z]+)[^"]*" id="[^"]*"[\s\S]*?data-path="([^"]+)"`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(dom, -1) {
		got = append(got, m[1]+" "+strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	slices.Sort(want)
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, want) {
		t.Errorf("Swagger UI lists %d operations, the document has %d\nmissing: %v\nextra: %v",
			len(got), len(want), diff(want, got), diff(got, want))
	}
}

// diff returns the elements of a that are not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
