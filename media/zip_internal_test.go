package media

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestZipGuards(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"small.txt": "hello", "zeros.bin": strings.Repeat("\x00", 4<<20), "a.txt": strings.Repeat("a", 1000)} {
		w, _ := zw.Create(name)
		io.WriteString(w, body)
	}
	zw.Close()
	z, err := OpenZip(t.Context(), buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Open("zeros.bin"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a 4 MiB entry at a ~1000:1 ratio: %v, want refused", err)
	}
	if _, err := z.Open("missing"); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing entry: %v", err)
	}
	z.budget = 500 // the real bytes count, whatever the header says
	rc, err := z.Open("small.txt")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || string(b) != "hello" {
		t.Errorf("small entry: %q %v", b, err)
	}
	rc, err = z.Open("a.txt")
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("reading past the budget: %v, want ErrInvalid", err)
	}
	if _, err := OpenZip(t.Context(), []byte("PK\x03\x04garbage")); !errors.Is(err, ErrInvalid) {
		t.Errorf("not a zip: %v", err)
	}
}
