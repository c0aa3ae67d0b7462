package openaistt

import "github.com/tldw-go/tldw/media"

// The cut search: the quietest window of cutWindow samples, slid by cutHop, within the
// last fifth before each limit.
const (
	cutWindow = media.SampleRate / 20  // 50 ms
	cutHop    = media.SampleRate / 100 // 10 ms
)

// cutPoints returns where to cut p into pieces of at most max samples: the piece bounds,
// from 0 to len(p). Each cut is the middle of the quietest 50 ms window (by RMS) in the last
// fifth before the piece's limit, so it falls in a pause when there is one.
func cutPoints(p media.PCM, max int) []int {
	bounds := []int{0}
	for start := 0; len(p)-start > max; {
		end := start + max
		cut := quietest(p, end-max/5, end)
		if cut <= start || cut > end {
			cut = end
		}
		bounds = append(bounds, cut)
		start = cut
	}
	return append(bounds, len(p))
}

// quietest returns the middle of the quietest cutWindow of p[lo:hi] (of the first run of
// equally quiet windows, the middle of the run), or hi when the stretch is shorter than a
// window. The energy is a sliding sum of squares: O(hi-lo) time, no allocation.
func quietest(p media.PCM, lo, hi int) int {
	if hi-lo < cutWindow {
		return hi
	}
	var e int64
	for _, s := range p[lo : lo+cutWindow] {
		e += int64(s) * int64(s)
	}
	best, runStart, runEnd := e, lo, lo
	for i := lo + cutHop; i+cutWindow <= hi; i += cutHop {
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
