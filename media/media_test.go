package media_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tldw-go/tldw/media"
)

func TestSanitizeFilename(t *testing.T) {
	tests := []struct{ in, want string }{
		{"clip.mp4", "clip.mp4"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\win.ini`, "win.ini"},
		{"/abs/path/x.pdf", "x.pdf"},
		{"..", ""},
		{".", ""},
		{"...hidden...", "hidden"},
		{"  spaced name.mp3  ", "spaced name.mp3"},
		{"a\x00b\r\n.txt", "ab.txt"},
		{"evil\u202egnp.exe", "evilgnp.exe"}, // right-to-left override dropped
		{"zero\u200bwidth.md", "zerowidth.md"},
		{`quote"d.txt`, "quoted.txt"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{"日本語.pdf", "日本語.pdf"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := media.SanitizeFilename(tt.in); got != tt.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("é", 300) + ".mp4"
	got := media.SanitizeFilename(long)
	if len(got) > media.MaxFilenameLen || !strings.HasSuffix(got, ".mp4") || !utf8.ValidString(got) {
		t.Errorf("long name: %d bytes, valid %v, %q...", len(got), utf8.ValidString(got), got[len(got)-8:])
	}
}

func TestKeywords(t *testing.T) {
	got, err := media.ParseKeywords(" Physics, lecture ,,PHYSICS, quantum mechanics ")
	if err != nil || !slices.Equal(got, []string{"lecture", "physics", "quantum mechanics"}) {
		t.Errorf("ParseKeywords = %q, %v", got, err)
	}
	if got, err := media.ParseKeywords(""); err != nil || len(got) != 0 {
		t.Errorf("ParseKeywords(\"\") = %q, %v", got, err)
	}
	bad := []string{
		strings.Repeat("k", media.MaxKeywordsLen+1),
		strings.Repeat("k", media.MaxKeywordLen+1),
		"tab\there",
		manyKeywords(media.MaxKeywords + 1),
	}
	for _, s := range bad {
		if _, err := media.ParseKeywords(s); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("ParseKeywords(%.30q...) = %v, want ErrInvalid", s, err)
		}
	}
}

// manyKeywords returns n distinct comma-separated keywords.
func manyKeywords(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "k%d,", i)
	}
	return b.String()
}

func TestListOptions(t *testing.T) {
	for _, o := range []media.ListOptions{{Page: 1, PerPage: 1}, {Page: 7, PerPage: media.MaxPerPage}} {
		if err := o.Valid(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []media.ListOptions{{Page: 0, PerPage: 10}, {Page: -1, PerPage: 10}, {Page: 1, PerPage: 0}, {Page: 1, PerPage: 101}} {
		if err := o.Valid(); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", o, err)
		}
	}
	if off := (media.ListOptions{Page: 3, PerPage: 20}).Offset(); off != 40 {
		t.Errorf("Offset = %d, want 40", off)
	}
	if n := (media.Page{Total: 41, ListOptions: media.ListOptions{Page: 1, PerPage: 20}}).TotalPages(); n != 3 {
		t.Errorf("TotalPages = %d, want 3", n)
	}
}
