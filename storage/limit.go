package storage

import (
	"fmt"
	"io"
)

// LimitedReader is http.MaxBytesReader for readers that are not request bodies: it passes
// at most N bytes of R and fails with an ErrTooLarge-wrapped error on the read that would
// pass more, without returning any byte past N (unlike io.LimitReader, which ends quietly).
// Exceeded tells afterwards whether that happened, for callers whose consumer (an upload
// client, a Blobs.Put) may replace the error with its own.
type LimitedReader struct {
	R        io.Reader
	N        int64 // bytes still allowed; negative: no limit
	exceeded bool
}

// LimitReader returns a LimitedReader of r allowing n bytes (negative: no limit).
func LimitReader(r io.Reader, n int64) *LimitedReader { return &LimitedReader{R: r, N: n} }

func (l *LimitedReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errTooLarge
	}
	if l.N < 0 {
		return l.R.Read(p)
	}
	if int64(len(p)) > l.N+1 {
		p = p[:l.N+1] // one byte more than allowed tells "more" from "exactly N"
	}
	n, err := l.R.Read(p)
	if int64(n) > l.N {
		n, l.N, l.exceeded = int(l.N), 0, true
		return n, errTooLarge
	}
	l.N -= int64(n)
	return n, err
}

// Exceeded reports whether R had more than the allowed bytes.
func (l *LimitedReader) Exceeded() bool { return l.exceeded }

var errTooLarge = fmt.Errorf("%w: over the size limit", ErrTooLarge)
