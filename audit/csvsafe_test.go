package audit_test

import (
	"testing"

	"github.com/tldw-go/tldw/audit"
)

// TestCSVSafeLeadingWhitespace: whitespace before a formula character does not hide it.
func TestCSVSafeLeadingWhitespace(t *testing.T) {
	for in, want := range map[string]string{
		" =1+1":          "' =1+1",
		"  @SUM(A1)":     "'  @SUM(A1)",
		"\n-2":           "'\n-2",
		"\r\n+cmd":       "'\r\n+cmd",
		" \t =HYPERLINK": "' \t =HYPERLINK",
		" alice":         " alice",
		"\nplain":        "\nplain",
		"   ":            "   ",
	} {
		if got := audit.CSVSafe(in); got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
