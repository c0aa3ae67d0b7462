package storage_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tldw-go/tldw/storage"
)

func TestLimitReader(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       int64
		want    string
		tooLong bool
	}{
		{"hello", 5, "hello", false},
		{"hello", 6, "hello", false},
		{"hello", 4, "hell", true},
		{"hello", 0, "", true},
		{"", 0, "", false},
		{"hello", -1, "hello", false},
	} {
		for name, r := range map[string]io.Reader{
			"whole":    strings.NewReader(tc.in),
			"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
		} {
			l := storage.LimitReader(r, tc.n)
			got, err := io.ReadAll(l)
			if string(got) != tc.want || errors.Is(err, storage.ErrTooLarge) != tc.tooLong || l.Exceeded() != tc.tooLong ||
				(!tc.tooLong && err != nil) {
				t.Errorf("%s %q limit %d: %q, %v, exceeded %v", name, tc.in, tc.n, got, err, l.Exceeded())
			}
			if tc.tooLong {
				if n, err := l.Read(make([]byte, 8)); n != 0 || !errors.Is(err, storage.ErrTooLarge) {
					t.Errorf("%s: read after the limit = %d, %v", name, n, err)
				}
			}
		}
	}
}
