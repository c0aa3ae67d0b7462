package openaistt

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tldw-go/tldw/media"
)

// The cut search: the quietest window of cutWindow samples, slid by cutHop, within the
// last fifth before each limit.
const (
	cutWindow = media.SampleRate / 20  // 50 ms
	cutHop    = media.SampleRate / 100 // 10 ms
)

// plan returns the pieces to send of a's WAV file: the file itself when it is at most
// limit bytes, else pieces of at most limit bytes each (a header and samples, read from the
// file when sent) cut by cutPoints. It reads only the header and the stretches searched for
// cuts, so memory does not grow with the audio. A file that is not a WAV of
// media.SampleRate Hz mono 16-bit PCM is media.ErrInvalid.
func plan(a media.Audio, limit int64) ([]piece, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, fmt.Errorf("openaistt: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("openaistt: %w", err)
	}
	data, n, err := wavData(f, info.Size())
	if err != nil {
		return nil, err
	}
	if info.Size() <= limit {
		return []piece{{path: a.Path, whole: true, n: n, length: cmp.Or(a.Duration, samples(n))}}, nil
	}
	var buf media.PCM
	var raw []byte
	window := func(lo, hi int) (media.PCM, error) {
		if cap(raw) < 2*(hi-lo) {
			raw = make([]byte, 2*(hi-lo))
		}
		raw = raw[:2*(hi-lo)]
		if k, err := f.ReadAt(raw, data+2*int64(lo)); k < len(raw) {
			return nil, fmt.Errorf("openaistt: reading the audio: %w", err)
		}
		buf = buf[:0]
		for i := 0; i < len(raw); i += 2 {
			buf = append(buf, int16(binary.LittleEndian.Uint16(raw[i:])))
		}
		return buf, nil
	}
	bounds, err := cutPoints(int(n), int((limit-wavHeaderSize)/2), window)
	if err != nil {
		return nil, err
	}
	pieces := make([]piece, 0, len(bounds)-1)
	for i := 1; i < len(bounds); i++ {
		from, to := int64(bounds[i-1]), int64(bounds[i])
		pieces = append(pieces, piece{path: a.Path, data: data + 2*from, n: to - from, offset: samples(from), length: samples(to - from)})
	}
	return pieces, nil
}

func samples(n int64) time.Duration { return time.Duration(n) * time.Second / media.SampleRate }

// cutPoints returns where to cut n samples into pieces of at most max: the piece bounds,
// from 0 to n. Each cut is the middle of the quietest 50 ms window (by RMS) in the last
// fifth before the piece's limit, so it falls in a pause when there is one. window returns
// the samples [lo, hi) (valid until its next call).
func cutPoints(n, max int, window func(lo, hi int) (media.PCM, error)) ([]int, error) {
	bounds := []int{0}
	for start := 0; n-start > max; {
		end := start + max
		lo := end - max/5
		w, err := window(lo, end)
		if err != nil {
			return nil, err
		}
		cut := lo + quietest(w)
		if cut <= start || cut > end {
			cut = end
		}
		bounds = append(bounds, cut)
		start = cut
	}
	return append(bounds, n), nil
}

// quietest returns the middle of p's quietest cutWindow (of the first run of equally quiet
// windows, the middle of the run), or len(p) when p is shorter than a window. The energy is
// a sliding sum of squares: O(len(p)) time, no allocation.
func quietest(p media.PCM) int {
	if len(p) < cutWindow {
		return len(p)
	}
	var e int64
	for _, s := range p[:cutWindow] {
		e += int64(s) * int64(s)
	}
	best, runStart, runEnd := e, 0, 0
	for i := cutHop; i+cutWindow <= len(p); i += cutHop {
		for _, s := range p[i-cutHop : i] {
			e -= int64(s) * int64(s)
		}
		for _, s := range p[i+cutWindow-cutHop : i+cutWindow] {
			e += int64(s) * int64(s)
		}
		switch {
		case e < best:
			best, runStart, runEnd = e, i, i
		case e == best && runEnd == i-cutHop:
			runEnd = i
		}
	}
	return (runStart+runEnd)/2 + cutWindow/2
}

// wavData finds the samples of a WAV file of size bytes: the byte offset of the first and
// their count. It checks the format is media.SampleRate Hz mono 16-bit PCM (else
// media.ErrInvalid). A data size of 0 or 0xFFFFFFFF (a WAV streamed to a pipe) or past the
// end means "to the end of the file".
func wavData(f io.ReaderAt, size int64) (data, n int64, err error) {
	invalid := func(why string) (int64, int64, error) {
		return 0, 0, media.Detailf(media.ErrInvalid, "the audio is not a %d Hz mono 16-bit WAV file (%s)", media.SampleRate, why)
	}
	var h [12]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || string(h[0:4]) != "RIFF" || string(h[8:12]) != "WAVE" {
		return invalid("no RIFF/WAVE header")
	}
	le := binary.LittleEndian
	fmtOK := false
	for at := int64(12); at+8 <= size; {
		var c [8]byte
		if _, err := f.ReadAt(c[:], at); err != nil {
			return invalid("truncated")
		}
		id, n := string(c[0:4]), int64(le.Uint32(c[4:]))
		at += 8
		switch id {
		case "fmt ":
			var b [16]byte
			if _, err := f.ReadAt(b[:], at); n < 16 || err != nil {
				return invalid("bad format chunk")
			}
			if le.Uint16(b[0:]) != 1 || le.Uint16(b[2:]) != 1 || le.Uint32(b[4:]) != media.SampleRate || le.Uint16(b[14:]) != 16 {
				return invalid(fmt.Sprintf("format %d, %d channels, %d Hz, %d bits",
					le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint32(b[4:]), le.Uint16(b[14:])))
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return invalid("data before the format")
			}
			if n == 0 || n == 0xFFFFFFFF || at+n > size {
				n = size - at
			}
			return at, n / 2, nil
		}
		at += n + n%2
	}
	return invalid("no data")
}

// wavHeader is the canonical 44-byte header of a WAV file of n samples (what media.WriteWAV
// writes before them).
func wavHeader(n int64) []byte {
	b := make([]byte, wavHeaderSize)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], 1) // PCM
	le.PutUint16(b[22:], 1) // mono
	le.PutUint32(b[24:], media.SampleRate)
	le.PutUint32(b[28:], 2*media.SampleRate)
	le.PutUint16(b[32:], 2)
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(2*n))
	return b
}
