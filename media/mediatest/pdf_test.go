package mediatest

import "testing"

func TestWER(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		wer       float64
	}{
		{"a b c d", "a  b\nc d", 0},
		{"a x c d", "a b c d", 0.25},
		{"a c d", "a b c d", 0.25},
		{"a b b c d", "a b c d", 0.25},
		{"", "a b", 1},
		{"a", "", 1},
	} {
		if got := WER(tc.got, tc.want); got != tc.wer {
			t.Errorf("WER(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.wer)
		}
	}
}
