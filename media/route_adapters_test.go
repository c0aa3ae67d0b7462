package media_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/email"
	"github.com/tldw-go/tldw/media/epub"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/mimesniff"
	"github.com/tldw-go/tldw/media/ooxml"
	"github.com/tldw-go/tldw/media/pandoc"
	"github.com/tldw-go/tldw/media/plaintext"
	"github.com/tldw-go/tldw/media/readability"
)

// pandocMake converts markdown to format with pandoc, for fixtures.
func pandocMake(t *testing.T, markdown, format string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := media.Run(t.Context(), media.Command{Path: "pandoc", Args: []string{"--from=markdown", "--to=" + format, "--standalone", "--output=-", "--metadata=title:T"},
		Stdin: strings.NewReader(markdown), Stdout: &out, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("pandoc to %s: %v", format, err)
	}
	return out.Bytes()
}

// TestRoutingRealFiles sends real files, sniffed by media/mimesniff, through Extractors
// wired with the real adapters: each reaches the extractor of its format.
func TestRoutingRealFiles(t *testing.T) {
	if _, err := exec.LookPath("pandoc"); err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("pandoc not installed and TLDW_REQUIRE_TOOLS=1")
		}
		t.Skip("pandoc not installed")
	}
	html := readability.Extractor{}
	x := media.Extractors{
		media.FormatText:   plaintext.Extractor{},
		media.FormatHTML:   html,
		media.FormatOffice: ooxml.Extractor{},
		media.FormatEPUB:   epub.Extractor{HTML: html},
		media.FormatEmail:  email.Extractor{HTML: html},
		media.FormatODT:    pandoc.Extractor{},
		media.FormatRTF:    pandoc.Extractor{},
	}
	const words = "routed words here"
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("notes.txt")
	w.Write([]byte(words))
	zw.Close()
	var tarred bytes.Buffer
	tw := tar.NewWriter(&tarred)
	tw.WriteHeader(&tar.Header{Name: "notes.txt", Mode: 0o644, Size: int64(len(words))})
	tw.Write([]byte(words))
	tw.Close()

	for _, tc := range []struct {
		name string
		data []byte
		want media.Format
	}{
		{"README.md", []byte("# Notes\n\n" + words + "\n"), media.FormatText},
		{"guide.rst", []byte("Guide\n=====\n\n" + words + "\n"), media.FormatText},
		{"main.go", []byte("package main\n\n// " + words + "\nfunc main() {}\n"), media.FormatText},
		{"data.csv", []byte("a,b\n" + words + ",2\n"), media.FormatText},
		{"doc.json", []byte(`{"text": "` + words + `"}`), media.FormatText},
		{"feed.xml", []byte(`<?xml version="1.0"?><doc>` + words + `</doc>`), media.FormatText},
		{"page.html", []byte("<html><head><title>P</title></head><body><p>" + words + "</p></body></html>"), media.FormatHTML},
		{"msg.eml", []byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\n" + words + "\r\n"), media.FormatEmail},
		{"box.mbox", []byte("From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nSubject: x\n\n" + words + "\n"), media.FormatEmail},
		{"report.docx", pandocMake(t, words, "docx"), media.FormatOffice},
		{"book.epub", pandocMake(t, "# One\n\n"+words, "epub"), media.FormatEPUB},
		{"letter.odt", pandocMake(t, words, "odt"), media.FormatODT},
		{"letter.rtf", pandocMake(t, words, "rtf"), media.FormatRTF},
	} {
		src := mediatest.BytesSource(tc.name, mimesniff.Sniff(tc.data[:min(len(tc.data), media.SniffLen)], tc.name), tc.data)
		if f, err := media.FormatOf(src); f != tc.want {
			t.Errorf("%s sniffed %s: format %q %v, want %q", tc.name, src.ContentType, f, err, tc.want)
			continue
		}
		got, err := x.Extract(t.Context(), src)
		if err != nil || !strings.Contains(got.Text, words) {
			t.Errorf("%s (%s): %v %+v", tc.name, src.ContentType, err, got)
		}
	}
	for name, data := range map[string][]byte{"notes.zip": zipped.Bytes(), "notes.tar": tarred.Bytes()} {
		src := mediatest.BytesSource(name, mimesniff.Sniff(data, name), data)
		if _, err := x.Extract(t.Context(), src); !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "archives are not unpacked") {
			t.Errorf("%s (%s): %v", name, src.ContentType, err)
		}
	}
}
