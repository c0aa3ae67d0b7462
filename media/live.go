package media

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// A LiveSession transcribes a stream of audio as it arrives (tldw's streaming
// transcription, served over a WebSocket by the HTTP layer) with any Transcriber: the audio
// is cut into windows of ChunkDuration new audio, each preceded by the last Overlap of the
// previous window so words at a boundary are heard whole; each window is written to a small
// WAV file and transcribed, and the words the overlap repeats are dropped from its text.

// Defaults of LiveOptions (tldw's config defaults and bounds).
const (
	DefaultLiveChunk       = 2 * time.Second
	DefaultLiveOverlap     = 500 * time.Millisecond
	DefaultLiveMaxBuffered = 30 * time.Second
	DefaultLiveMaxSession  = time.Hour
	MaxLiveChunk           = 30 * time.Second
)

// LiveOptions configure a LiveSession.
type LiveOptions struct {
	Transcriber Transcriber // required
	// Budget is charged each window's new audio, reserved before it is transcribed and
	// committed after, for UserID; nil is unlimited.
	Budget *AudioBudget
	UserID int64
	// ChunkDuration is the new audio per window (0: DefaultLiveChunk; at most MaxLiveChunk);
	// Overlap is the audio of the previous window heard again (0: DefaultLiveOverlap; less
	// than ChunkDuration; negative: none).
	ChunkDuration, Overlap time.Duration
	Language, Model        string
	// Partial asks for one partial result per window, when half of its new audio is in.
	// Partials preview audio their final hears again; only finals are charged.
	Partial bool
	// MaxBuffered bounds audio received and not yet transcribed (0: DefaultLiveMaxBuffered);
	// MaxSession bounds the audio of the whole session (0: DefaultLiveMaxSession). Past
	// either, Write is ErrTooLarge.
	MaxBuffered, MaxSession time.Duration
	// KeepAudio keeps every sample received in the session's temporary directory, for
	// SaveWAV (a session to be stored).
	KeepAudio bool
	TempDir   string // where the window files go; "" = os.TempDir()
}

// LiveResult is a partial or final transcription of one window. Times are from the start
// of the session's audio.
type LiveResult struct {
	Final      bool
	Text       string        // the window's text without the words the overlap repeats
	SegmentID  int           // the window's number, from 0; a partial has its final's
	Start, End time.Duration // the new audio of the window
	// ChunkStart is where the window starts, its overlap included (ChunkEnd is End).
	ChunkStart time.Duration
	Buffered   time.Duration // partials: new audio of the window so far
	Cumulative time.Duration // audio received so far
}

// LiveSession is one stream's state. Not safe for concurrent use: one goroutine feeds it.
// Close removes its temporary files.
type LiveSession struct {
	o        LiveOptions
	dir      string
	pending  PCM           // received, not yet transcribed
	tail     PCM           // the end of the previous window, heard again
	start    time.Duration // where pending starts in the session
	received time.Duration
	prevText string // the previous window's whole text, for the overlap merge
	partial  bool   // a partial was sent for the current window
	segID    int
	segments []Segment
	language string
	kept     *os.File // with KeepAudio: every sample received, s16le
}

// NewLiveSession starts a session; it checks and completes o. A chunk or overlap out of
// bounds is ErrInvalid.
func NewLiveSession(o LiveOptions) (*LiveSession, error) {
	if o.Transcriber == nil {
		return nil, Detailf(ErrUnsupported, "no transcriber configured")
	}
	if o.ChunkDuration == 0 {
		o.ChunkDuration = DefaultLiveChunk
	}
	if o.Overlap == 0 {
		o.Overlap = DefaultLiveOverlap
	}
	o.Overlap = max(o.Overlap, 0)
	switch {
	case o.ChunkDuration < 100*time.Millisecond || o.ChunkDuration > MaxLiveChunk:
		return nil, Detailf(ErrInvalid, "chunk_duration must be between 0.1 and %g seconds", MaxLiveChunk.Seconds())
	case o.Overlap >= o.ChunkDuration:
		return nil, Detailf(ErrInvalid, "overlap_duration must be shorter than chunk_duration")
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = DefaultLiveMaxBuffered
	}
	o.MaxBuffered = max(o.MaxBuffered, o.ChunkDuration)
	if o.MaxSession <= 0 {
		o.MaxSession = DefaultLiveMaxSession
	}
	dir, err := os.MkdirTemp(o.TempDir, "tldw-live-*")
	if err != nil {
		return nil, err
	}
	s := &LiveSession{o: o, dir: dir}
	if o.KeepAudio {
		if s.kept, err = os.Create(filepath.Join(dir, "session.pcm")); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	return s, nil
}

// Options returns the session's options with the defaults filled in.
func (s *LiveSession) Options() LiveOptions { return s.o }

// Close removes the session's temporary files.
func (s *LiveSession) Close() error {
	if s.kept != nil {
		_ = s.kept.Close()
	}
	return os.RemoveAll(s.dir)
}

// Received is the audio received so far.
func (s *LiveSession) Received() time.Duration { return s.received }

// Write adds samples and transcribes every window they complete, returning the results in
// order (with Partial, a partial for a window half in). Past MaxSession or MaxBuffered it is
// ErrTooLarge and the samples are dropped; a failed window (a *BudgetError, a transcriber
// error) stays buffered.
func (s *LiveSession) Write(ctx context.Context, p PCM) ([]LiveResult, error) {
	if s.received+p.Duration() > s.o.MaxSession {
		return nil, Detailf(ErrTooLarge, "the session is longer than %s", s.o.MaxSession)
	}
	if s.pending.Duration()+p.Duration() > s.o.MaxBuffered {
		return nil, Detailf(ErrTooLarge, "more than %s of audio waiting to be transcribed", s.o.MaxBuffered)
	}
	if s.kept != nil {
		if err := binary.Write(s.kept, binary.LittleEndian, []int16(p)); err != nil {
			return nil, fmt.Errorf("media: keep session audio: %w", err)
		}
	}
	s.pending = append(s.pending, p...)
	s.received += p.Duration()
	var out []LiveResult
	chunk := samples(s.o.ChunkDuration)
	for len(s.pending) >= chunk {
		r, err := s.final(ctx, chunk)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	if s.o.Partial && !s.partial && len(s.pending) > 0 && len(s.pending) >= chunk/2 {
		r, _, err := s.transcribe(ctx, len(s.pending))
		if err != nil {
			return out, err
		}
		s.partial = true
		out = append(out, r)
	}
	return out, nil
}

// Commit transcribes what is buffered as a last window (none when nothing is) and ends the
// utterance: the next window starts without overlap.
func (s *LiveSession) Commit(ctx context.Context) ([]LiveResult, error) {
	var out []LiveResult
	if len(s.pending) > 0 {
		r, err := s.final(ctx, len(s.pending))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	s.tail, s.prevText = nil, ""
	return out, nil
}

// Reset drops the audio not yet transcribed and the overlap; what was transcribed stays in
// the transcript, and times go on from the audio received.
func (s *LiveSession) Reset() {
	s.start += s.pending.Duration()
	s.pending, s.tail, s.prevText, s.partial = nil, nil, "", false
}

// Transcript is every final result so far, one segment each.
func (s *LiveSession) Transcript() *Transcript {
	t := &Transcript{Language: s.language, Model: s.o.Model, Segments: append([]Segment(nil), s.segments...)}
	var words []string
	for _, seg := range s.segments {
		if seg.Text != "" {
			words = append(words, seg.Text)
		}
	}
	t.Text = strings.Join(words, " ")
	return t
}

// SaveWAV writes every sample received to a new WAV file at path (KeepAudio; without it
// the file is ErrInvalid).
func (s *LiveSession) SaveWAV(path string) error {
	if s.kept == nil {
		return Detailf(ErrInvalid, "the session's audio was not kept")
	}
	n := samples(s.received)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := wavHeader{RIFF: [4]byte{'R', 'I', 'F', 'F'}, Size: uint32(36 + 2*n), WAVE: [4]byte{'W', 'A', 'V', 'E'},
		Fmt: [4]byte{'f', 'm', 't', ' '}, FmtSize: 16, Format: 1, Channels: 1, SampleRate: SampleRate,
		ByteRate: 2 * SampleRate, BlockAlign: 2, BitsPerSample: 16, Data: [4]byte{'d', 'a', 't', 'a'}, DataSize: uint32(2 * n)}
	if err := binary.Write(f, binary.LittleEndian, h); err != nil {
		return err
	}
	if _, err := io.Copy(f, io.NewSectionReader(s.kept, 0, int64(2*n))); err != nil {
		return err
	}
	return f.Close()
}

// final transcribes the first n pending samples as a final result, charged to the budget,
// and moves the window on.
func (s *LiveSession) final(ctx context.Context, n int) (LiveResult, error) {
	d := s.pending[:n].Duration()
	res, err := s.o.Budget.Reserve(ctx, s.o.UserID, d)
	if err != nil {
		return LiveResult{}, err
	}
	r, whole, err := s.transcribe(ctx, n)
	if err != nil {
		_ = s.o.Budget.Release(context.WithoutCancel(ctx), res)
		return LiveResult{}, err
	}
	if err := s.o.Budget.Commit(ctx, res, d); err != nil {
		return LiveResult{}, err
	}
	r.Final = true
	s.segments = append(s.segments, Segment{Start: r.Start, End: r.End, Text: r.Text})
	window := append(s.tail, s.pending[:n]...)
	s.tail = append(PCM(nil), window[max(0, len(window)-samples(s.o.Overlap)):]...)
	s.pending = append(PCM(nil), s.pending[n:]...)
	s.prevText = whole
	s.start += d
	s.segID++
	s.partial = false
	return r, nil
}

// transcribe hears the overlap tail plus the first n pending samples. It returns the result
// (partial: final sets Final) and the window's whole text, overlap included.
func (s *LiveSession) transcribe(ctx context.Context, n int) (LiveResult, string, error) {
	window := append(append(PCM(nil), s.tail...), s.pending[:n]...)
	path := filepath.Join(s.dir, "window.wav")
	if err := WriteWAVFile(path, window); err != nil {
		return LiveResult{}, "", err
	}
	defer os.Remove(path)
	tr, err := s.o.Transcriber.Transcribe(ctx, Audio{Path: path, Duration: window.Duration()},
		TranscribeOptions{Name: "live.wav", ContentType: "audio/wav", Model: s.o.Model, Language: s.o.Language})
	if err != nil {
		return LiveResult{}, "", err
	}
	if tr.Language != "" {
		s.language = tr.Language
	}
	whole := strings.Join(strings.Fields(tr.Text), " ")
	d := s.pending[:n].Duration()
	return LiveResult{SegmentID: s.segID, Start: s.start, End: s.start + d, ChunkStart: s.start - s.tail.Duration(),
		Buffered: d, Cumulative: s.received, Text: MergeOverlap(s.prevText, whole)}, whole, nil
}

// MergeOverlap returns next without the words at its start that repeat the end of prev
// (the audio both windows heard): the longest run of up to 12 words, compared without case
// or punctuation.
func MergeOverlap(prev, next string) string {
	pw, nw := strings.Fields(prev), strings.Fields(next)
	for k := min(len(pw), len(nw), 12); k > 0; k-- {
		same := true
		for i := range k {
			if normWord(pw[len(pw)-k+i]) != normWord(nw[i]) {
				same = false
				break
			}
		}
		if same {
			return strings.Join(nw[k:], " ")
		}
	}
	return strings.Join(nw, " ")
}

func normWord(w string) string {
	return strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }))
}

// samples is the number of samples in d.
func samples(d time.Duration) int { return int(d * SampleRate / time.Second) }

// PCMFromInt16LE reads little-endian 16-bit samples (an odd trailing byte is ErrInvalid).
func PCMFromInt16LE(b []byte) (PCM, error) {
	if len(b)%2 != 0 {
		return nil, Detailf(ErrInvalid, "Int16 audio has an odd number of bytes")
	}
	p := make(PCM, len(b)/2)
	for i := range p {
		p[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return p, nil
}

// PCMFromFloat32LE reads little-endian float32 samples in [-1, 1] (clipped) at rate Hz and
// resamples them to SampleRate (linear interpolation). A length not a multiple of 4, a NaN
// or a rate outside 8000..192000 is ErrInvalid.
func PCMFromFloat32LE(b []byte, rate int) (PCM, error) {
	if len(b)%4 != 0 {
		return nil, Detailf(ErrInvalid, "float32 audio has a length not a multiple of 4 bytes")
	}
	if rate < 8000 || rate > 192000 {
		return nil, Detailf(ErrInvalid, "sample_rate must be between 8000 and 192000")
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if v != v {
			return nil, Detailf(ErrInvalid, "audio sample is not a number")
		}
		f[i] = v
	}
	return Resample(f, rate), nil
}

// Resample converts samples at rate Hz to SampleRate Hz PCM by linear interpolation. Each
// call stands alone: a stream resampled in pieces may be off by a sample at the seams.
func Resample(f []float32, rate int) PCM {
	conv := func(v float32) int16 { return int16(math.Round(float64(max(-1, min(1, v))) * 32767)) }
	if rate == SampleRate {
		p := make(PCM, len(f))
		for i, v := range f {
			p[i] = conv(v)
		}
		return p
	}
	n := int(int64(len(f)) * SampleRate / int64(rate))
	p := make(PCM, n)
	step := float64(rate) / SampleRate
	for i := range p {
		x := float64(i) * step
		j := int(x)
		frac := float32(x - float64(j))
		v := f[min(j, len(f)-1)]
		if j+1 < len(f) {
			v += (f[j+1] - v) * frac
		}
		p[i] = conv(v)
	}
	return p
}
