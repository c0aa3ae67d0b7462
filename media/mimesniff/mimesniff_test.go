package mimesniff_test

import (
	"testing"

	"github.com/tldw-go/tldw/media/mimesniff"
)

func TestSniff(t *testing.T) {
	mp4 := []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free")
	tests := []struct {
		name, file string
		head       []byte
		want       string
	}{
		{"pdf", "x.pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "application/pdf"},
		{"mp4", "clip.mp4", mp4, "video/mp4"},
		{"text", "notes.txt", []byte("hello world\n"), "text/plain; charset=utf-8"},
		{"markdown by extension", "README.MD", []byte("# Title\n\nsome text\n"), "text/markdown; charset=utf-8"},
		{"html is never renamed", "evil.md", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), "text/html; charset=utf-8"},
		{"svg", "x.txt", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/svg+xml"},
		{"name does not override bytes", "x.mp4", []byte("%PDF-1.4\n"), "application/pdf"},
		{"unknown", "x.bin", []byte{0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x9c}, "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mimesniff.New().Sniff(tt.head, tt.file)
			if got != tt.want {
				t.Errorf("Sniff(%q) = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}
