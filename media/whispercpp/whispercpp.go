// Package whispercpp is a media.Transcriber on whisper.cpp's command-line program,
// whisper-cli (called main before 2025), with a ggml model file (WHISPER_CPP_MODEL). Each
// file is one run through media.Run (own temporary directory, timeout, memory limit,
// process group killed on cancel):
//
//	whisper-cli -m MODEL -f WAV -l LANG|auto -oj -of OUT -np [-t N] [--prompt P]
//
// and the JSON it writes (OUT.json: "result.language" and "transcription", segments with
// "offsets" in milliseconds and "text") becomes the transcript.
//
// whisper.cpp has no Debian package: build it from its repository and put whisper-cli on
// PATH, or set Config.Path.
package whispercpp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Defaults for the zero fields of Config.
const (
	DefaultProgram = "whisper-cli"
	// DefaultMemory is the address-space limit of a run: room for the large models (3 GB)
	// and their buffers.
	DefaultMemory = 8 << 30
	// DefaultTimeout is the fixed part of a run's time limit; each second of audio adds
	// TimePerSecond.
	DefaultTimeout = 10 * time.Minute
	TimePerSecond  = 3 * time.Second
)

// maxOutput bounds the JSON file read back.
const maxOutput = 64 << 20

// Config configures a Transcriber.
type Config struct {
	Path        string        // the program; "" finds DefaultProgram on PATH
	Model       string        // the ggml model file (WHISPER_CPP_MODEL); required
	Threads     int           // -t; 0 leaves whisper.cpp's default (up to 4)
	TempRoot    string        // where temporary directories go; "" is os.TempDir()
	Timeout     time.Duration // per file; 0 is DefaultTimeout + TimePerSecond per second of audio
	MemoryBytes int64         // address-space limit per run; 0 is DefaultMemory
}

// Transcriber runs whisper-cli. Safe for concurrent use (each call is its own process).
type Transcriber struct {
	cfg Config
}

var _ media.Transcriber = (*Transcriber)(nil)

// New returns a Transcriber for c. It does not check c: Check does, and so does every
// Transcribe.
func New(c Config) *Transcriber { return &Transcriber{cfg: c} }

// Check returns nil when the program and the model file are there, else a
// media.ErrUnsupported error saying what to install or set.
func (t *Transcriber) Check() error {
	_, _, err := t.setup()
	return err
}

// setup finds the program and the model, as absolute paths.
func (t *Transcriber) setup() (prog, model string, err error) {
	if t.cfg.Model == "" {
		return "", "", fmt.Errorf("%w: whisper.cpp needs a ggml model file: set WHISPER_CPP_MODEL", media.ErrUnsupported)
	}
	model, err = filepath.Abs(t.cfg.Model)
	if err == nil {
		var info os.FileInfo
		if info, err = os.Stat(model); err == nil && info.IsDir() {
			err = errors.New("a directory")
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: WHISPER_CPP_MODEL=%s is not a readable ggml model file (%v)", media.ErrUnsupported, t.cfg.Model, unwrapPath(err))
	}
	prog, err = media.LookPath(t.cfg.Path, DefaultProgram, "")
	if err != nil {
		return "", "", fmt.Errorf("%w: %s is not installed (whisper.cpp has no Debian package: build it and put whisper-cli on PATH)",
			media.ErrUnsupported, filepath.Base(cmp.Or(t.cfg.Path, DefaultProgram)))
	}
	return prog, model, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Transcribe runs whisper-cli on a (a WAV file of media.SampleRate Hz mono s16le) in
// o.Language ("" detects it) with o.Prompt as the initial prompt. The model is the
// configured one: o.Model, when it names another, is ignored with a warning. Errors wrap
// media.ErrUnsupported (no program or model file, a model whisper.cpp cannot load, a
// language it does not know), media.ErrInvalid (a malformed language, an unreadable WAV),
// media.ErrTimeout, ctx's error, or are another error naming the exit status and the end
// of stderr.
func (t *Transcriber) Transcribe(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
	prog, model, err := t.setup()
	if err != nil {
		return nil, err
	}
	lang, err := language(o.Language)
	if err != nil {
		return nil, err
	}
	wav, err := filepath.Abs(a.Path)
	if err != nil {
		return nil, fmt.Errorf("whispercpp: %w", err)
	}
	if err := checkWAV(wav); err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp(t.cfg.TempRoot, media.TempPrefix+"whisper-")
	if err != nil {
		return nil, fmt.Errorf("whispercpp: temporary directory: %w", err)
	}
	defer os.RemoveAll(out)
	args := []string{"-m", model, "-f", wav, "-l", lang, "-oj", "-of", filepath.Join(out, "out"), "-np"}
	if t.cfg.Threads > 0 {
		args = append(args, "-t", strconv.Itoa(t.cfg.Threads))
	}
	if o.Prompt != "" {
		args = append(args, "--prompt", o.Prompt)
	}
	stderr := &tail{max: 4 << 10}
	err = media.Run(ctx, media.Command{
		Path: prog, Args: args, TempRoot: t.cfg.TempRoot, Stderr: stderr,
		Timeout:     cmp.Or(t.cfg.Timeout, DefaultTimeout+time.Duration(a.Duration.Seconds()*float64(TimePerSecond))),
		MemoryBytes: cmp.Or(t.cfg.MemoryBytes, DefaultMemory),
	})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, media.ErrTimeout) {
			return nil, err
		}
		return nil, t.runError(err, stderr.String())
	}
	data, err := readCapped(filepath.Join(out, "out.json"), maxOutput)
	if err != nil {
		// whisper-cli exits 0 after some errors (an unknown language or option).
		return nil, t.runError(fmt.Errorf("whispercpp: whisper-cli wrote no transcript (%v)", unwrapPath(err)), stderr.String())
	}
	tr, err := Parse(data)
	if err != nil {
		return nil, err
	}
	tr.Model = strings.TrimSuffix(filepath.Base(model), ".bin")
	if o.Model != "" && o.Model != tr.Model && o.Model != filepath.Base(model) {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("transcription_model %q is not used: whisper.cpp has the model %s", o.Model, tr.Model))
	}
	if tr.Language == "" && lang != "auto" {
		tr.Language = lang
	}
	if o.Diarize {
		tr.Warnings = append(tr.Warnings, "diarization is not available with whisper.cpp on mono audio")
	}
	return tr, nil
}

// runError classifies a failed run by what whisper-cli printed.
func (t *Transcriber) runError(err error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	switch {
	case strings.Contains(msg, "unknown language"):
		return media.Detailf(media.ErrUnsupported, "whisper.cpp does not know this language: %s", lastLine(msg, "unknown language"))
	case strings.Contains(msg, "failed to initialize whisper context"):
		return fmt.Errorf("%w: whisper.cpp could not load the model WHISPER_CPP_MODEL=%s: %s", media.ErrUnsupported, t.cfg.Model,
			lastLine(msg, "failed to initialize"))
	case strings.Contains(msg, "failed to decode audio") || strings.Contains(msg, "failed to read audio") ||
		strings.Contains(msg, "input file not found"):
		return fmt.Errorf("%w: whisper.cpp could not read the audio: %s", media.ErrInvalid, lastLine(msg, "error"))
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		return fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// lastLine returns the last line of s that contains sub, or s's last line.
func lastLine(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// language is the -l argument for the form's transcription_language: "auto" for "", else
// the lower-cased code or English name (whisper.cpp knows both: "en", "english").
func language(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "auto", nil
	}
	if i := strings.IndexAny(s, "-_"); i == 2 || i == 3 { // en-US: en
		s = s[:i]
	}
	if len(s) > 32 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz ") != "" {
		return "", media.Detailf(media.ErrInvalid, "transcription_language %q is not a language code or name", s)
	}
	return s, nil
}

// Parse reads the JSON whisper-cli writes with -oj:
//
//	{"systeminfo": ..., "model": {...}, "params": {...}, "result": {"language": "en"},
//	 "transcription": [{"timestamps": {"from": "00:00:00,000", "to": "00:00:02,000"},
//	                    "offsets": {"from": 0, "to": 2000}, "text": " Hello."}, ...]}
//
// Offsets are milliseconds. whisper.cpp escapes only quotes and backslashes in strings, so
// control characters are read as spaces. Segments of only "[BLANK_AUDIO]" are dropped.
// A document that is not this JSON is an error.
func Parse(data []byte) (*media.Transcript, error) {
	data = bytes.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, data)
	var doc struct {
		Result struct {
			Language string `json:"language"`
		} `json:"result"`
		Transcription *[]struct {
			Offsets struct {
				From, To int64
			} `json:"offsets"`
			Text    string `json:"text"`
			Speaker string `json:"speaker"`
		} `json:"transcription"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Transcription == nil {
		return nil, fmt.Errorf("whispercpp: whisper-cli's JSON output is unreadable (%v)", err)
	}
	t := &media.Transcript{Language: strings.ToLower(doc.Result.Language)}
	var texts []string
	for _, s := range *doc.Transcription {
		text := strings.TrimSpace(s.Text)
		if text == "" || text == "[BLANK_AUDIO]" {
			continue
		}
		start := time.Duration(max(0, s.Offsets.From)) * time.Millisecond
		end := max(start, time.Duration(s.Offsets.To)*time.Millisecond)
		t.Segments = append(t.Segments, media.Segment{Start: start, End: end, Text: text, Speaker: s.Speaker})
		texts = append(texts, text)
	}
	t.Text = strings.Join(texts, " ")
	return t, nil
}

// checkWAV returns a media.ErrInvalid error unless path starts like a WAV file.
func checkWAV(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("whispercpp: %w", err)
	}
	defer f.Close()
	var b [12]byte
	if _, err := io.ReadFull(f, b[:]); err != nil || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return media.Detailf(media.ErrInvalid, "the audio is not a WAV file")
	}
	return nil
}

// readCapped reads a file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%w: whisper-cli's output is over %d bytes", media.ErrTooLarge, max)
	}
	return data, err
}

// tail keeps the last max bytes written to it (whisper-cli's stderr; writes never fail).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if extra := len(t.buf) - t.max; extra > 0 {
		t.buf = append(t.buf[:0], t.buf[extra:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
