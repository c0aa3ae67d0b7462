// Package pocketsphinx is a media.Transcriber on CMU Sphinx's pocketsphinx_continuous
// (Debian packages pocketsphinx and pocketsphinx-en-us, version 0.8): offline, English
// only, fast to install and weak on accuracy — the default when nothing better (a
// whisper.cpp or OpenAI-compatible transcriber) is configured.
//
// One run reads the whole WAV file (-infile) and prints, per utterance, a hypothesis line
// and its words with times from the start of the file (-time yes); Transcribe groups the
// words into segments split at pauses and every MaxSegment.
package pocketsphinx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Packages are the Debian/Ubuntu packages of the program and its English model.
const Packages = "pocketsphinx pocketsphinx-en-us"

// Defaults and fixed values.
const (
	DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"
	DefaultMemory   = 1 << 30
	// Model is the Transcript.Model of every transcript.
	Model = "pocketsphinx-en-us"
	// MaxSegment is the longest a segment grows before a new one starts.
	MaxSegment = 10 * time.Second
	// Pause is the shortest gap between words that starts a new segment.
	Pause = 300 * time.Millisecond
)

// Config configures a Transcriber. Zero fields take the defaults.
type Config struct {
	Path string // pocketsphinx_continuous; "" looks it up on PATH
	// ModelDir holds the acoustic model (en-us/), the language model (en-us.lm.bin) and the
	// dictionary (cmudict-en-us.dict), as pocketsphinx-en-us installs them; "" is
	// DefaultModelDir.
	ModelDir string
	TempRoot string // where temporary directories go; "" is os.TempDir()
	// Timeout bounds one run; 0 is two minutes plus three times the audio's length
	// (pocketsphinx takes about half the audio's length on one free core).
	Timeout     time.Duration
	MemoryBytes int64 // address-space limit of the run; 0 is DefaultMemory
}

// Transcriber is media.Transcriber on pocketsphinx_continuous. It is safe for concurrent
// use.
type Transcriber struct {
	cfg           Config
	prog          string
	hmm, lm, dict string
}

var _ media.Transcriber = (*Transcriber)(nil)

// New returns a Transcriber, or a media.ErrUnsupported error naming the Debian packages
// when the program or the model is missing.
func New(c Config) (*Transcriber, error) {
	prog, err := media.LookPath(c.Path, "pocketsphinx_continuous", Packages)
	if err != nil {
		return nil, err
	}
	if c.ModelDir == "" {
		c.ModelDir = DefaultModelDir
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemory
	}
	t := &Transcriber{cfg: c, prog: prog, hmm: filepath.Join(c.ModelDir, "en-us"),
		lm: filepath.Join(c.ModelDir, "en-us.lm.bin"), dict: filepath.Join(c.ModelDir, "cmudict-en-us.dict")}
	for _, f := range []string{filepath.Join(t.hmm, "mdef"), t.lm, t.dict} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: the pocketsphinx English model is not installed (%s is missing; Debian/Ubuntu packages %s)", media.ErrUnsupported, f, Packages)
		}
	}
	return t, nil
}

// Transcribe transcribes a (a WAV of media.SampleRate Hz mono s16le) in English.
// o.Language must be "" or English ("en", "en-US", "english"); o.Model and o.Prompt are
// not used (Transcript.Model is Model), and o.Diarize gives a warning. Errors wrap
// media.ErrUnsupported (another language), media.ErrInvalid (not such a WAV file),
// media.ErrTooLarge, media.ErrTimeout or ctx's.
func (t *Transcriber) Transcribe(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !english(o.Language) {
		return nil, media.Detailf(media.ErrUnsupported, "pocketsphinx transcribes English only, not %.40q", o.Language)
	}
	// Reading at most one sample checks the header without reading the audio.
	if _, err := media.ReadWAVFile(a.Path, 1); err != nil && !errors.Is(err, media.ErrTooLarge) {
		if errors.Is(err, media.ErrInvalid) {
			return nil, media.Detailf(media.ErrInvalid, "the audio is not a %d Hz mono 16-bit WAV file", media.SampleRate)
		}
		return nil, err
	}
	in, err := filepath.Abs(a.Path)
	if err != nil {
		return nil, err
	}
	length := a.Duration
	if fi, err := os.Stat(in); err == nil && length <= 0 {
		length = time.Duration(fi.Size()/2) * time.Second / media.SampleRate
	}
	timeout := t.cfg.Timeout
	if timeout <= 0 {
		timeout = 2*time.Minute + 3*length
	}
	// A word line is some 30 bytes, and nobody says 20 words a second.
	out := &media.CappedBuffer{Max: 1<<20 + int64(length/time.Second)*(1<<10)}
	err = media.Run(ctx, media.Command{Path: t.prog, Stdout: out, TempRoot: t.cfg.TempRoot, Timeout: timeout, MemoryBytes: t.cfg.MemoryBytes,
		Args: []string{"-infile", in, "-time", "yes", "-hmm", t.hmm, "-lm", t.lm, "-dict", t.dict}})
	switch {
	case out.Over:
		return nil, fmt.Errorf("%w: pocketsphinx printed more than %d bytes", media.ErrTooLarge, out.Max)
	case err != nil && (ctx.Err() != nil || errors.Is(err, media.ErrTimeout)):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	tr := &media.Transcript{Language: "en", Model: Model, Segments: segments(parseWords(out.Buf.String()), a.Duration)}
	texts := make([]string, len(tr.Segments))
	for i, s := range tr.Segments {
		texts[i] = s.Text
	}
	tr.Text = strings.Join(texts, " ")
	if o.Diarize {
		tr.Warnings = append(tr.Warnings, "diarization is not available with pocketsphinx")
	}
	if o.Model != "" && o.Model != Model {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("the model %.60q is not available: transcribed with %s", o.Model, Model))
	}
	return tr, nil
}

// english reports whether lang asks for English (or for nothing in particular).
func english(lang string) bool {
	l := strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	return l == "" || l == "en" || l == "eng" || l == "english"
}

// word is one word pocketsphinx heard.
type word struct {
	text       string
	start, end time.Duration
	first      bool // the first word of an utterance
}

// parseWords reads pocketsphinx_continuous -time yes output: per utterance a hypothesis
// line, then lines "word start end confidence" (seconds from the start of the file). It
// returns the words, without the fillers (<s>, </s>, <sil>, [NOISE], ...) and with an
// alternate pronunciation's "(2)" cut off.
func parseWords(out string) []word {
	var words []word
	first := true
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		start, err1 := strconv.ParseFloat(field(f, 1), 64)
		end, err2 := strconv.ParseFloat(field(f, 2), 64)
		_, err3 := strconv.ParseFloat(field(f, 3), 64)
		if len(f) != 4 || err1 != nil || err2 != nil || err3 != nil {
			first = true // a hypothesis line: a new utterance
			continue
		}
		w := f[0]
		if strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || start < 0 || end < start {
			continue
		}
		if i := strings.LastIndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		words = append(words, word{text: w, start: seconds(start), end: seconds(end), first: first})
		first = false
	}
	return words
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func seconds(s float64) time.Duration { return time.Duration(s*1000+0.5) * time.Millisecond }

// segments groups words into segments: a new one starts with an utterance, after a Pause,
// or when the current one would pass MaxSegment. Times stay in order and, when duration
// is known, inside it.
func segments(words []word, duration time.Duration) []media.Segment {
	var segs []media.Segment
	var text []string
	for _, w := range words {
		if n := len(segs); n > 0 {
			w.start = max(w.start, segs[n-1].End)
			w.end = max(w.end, w.start)
		}
		if duration > 0 {
			w.start, w.end = min(w.start, duration), min(w.end, duration)
		}
		n := len(segs)
		if n == 0 || w.first || w.start-segs[n-1].End > Pause || w.end-segs[n-1].Start > MaxSegment {
			if n > 0 {
				segs[n-1].Text = strings.Join(text, " ")
			}
			segs = append(segs, media.Segment{Start: w.start, End: w.end})
			text = []string{w.text}
			continue
		}
		segs[n-1].End = w.end
		text = append(text, w.text)
	}
	if n := len(segs); n > 0 {
		segs[n-1].Text = strings.Join(text, " ")
	}
	return segs
}
