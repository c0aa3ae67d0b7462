package media

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Ephemeral is one input to process without storing anything (tldw's process-* endpoints).
type Ephemeral struct {
	Actor
	Filename  string // the client's name; its extension decides among text types
	MediaType string // one of Types(); audio and video are transcribed
	Size      int64  // bytes, or -1 when unknown
	// Open returns the bytes from the start; it may be called more than once.
	Open    func() (io.ReadCloser, error)
	Process ProcessOptions
}

// Processed is what ProcessEphemeral derived from an input.
type Processed struct {
	ContentType string
	Text        string
	WordCount   int
	Metadata    map[string]string
	Segments    []Segment // a transcript's timed segments (audio, video), unless Process.Transcribe.NoTimestamps
	Chunks      []Chunk   // nil with Process.NoChunking
	Warnings    []string
}

// ProcessEphemeral extracts (or, for audio and video, transcribes with the Pipeline's AV
// and Transcriber) and chunks one input in the caller's goroutine, storing nothing: no
// item, no blob, no quota; temporary files are removed before it returns (OCR pages and
// transcription minutes still count against the user's daily budgets). Errors:
// ErrUnsupported without a Pipeline, its Extractor (documents) or its AV and Transcriber
// (audio, video), or for an input no extractor reads; ErrInvalid for an empty input, an
// invalid media type or options; a *BudgetError past the transcription minutes; the
// Extractor's, AV's, Transcriber's and Chunker's errors.
func (s *Service) ProcessEphemeral(ctx context.Context, in Ephemeral) (*Processed, error) {
	p := s.Pipeline
	if err := ValidType(in.MediaType); err != nil {
		return nil, err
	}
	av := in.MediaType == TypeAudio || in.MediaType == TypeVideo
	switch {
	case p == nil || (!av && p.Extractor == nil):
		return nil, errNoProcessing
	case av && (p.AV == nil || p.Transcriber == nil):
		return nil, Detailf(ErrUnsupported, "audio and video transcription is not available on this server")
	}
	if !in.Process.NoChunking {
		if _, err := in.Process.Chunk.Normalized(); err != nil {
			return nil, err
		}
	}
	release, err := s.ephemeral.take(in.UserID, s.EphemeralPerUser)
	if err != nil {
		return nil, err
	}
	defer release()
	ctype, err := s.sniffOpen(in)
	if err != nil {
		return nil, err
	}
	it := &Item{UserID: in.UserID, Filename: SanitizeFilename(in.Filename), MediaType: in.MediaType,
		ContentType: ctype, Size: in.Size}
	if av {
		return s.hearEphemeral(ctx, in, it)
	}
	opts, _, err := p.ocrOptions(ctx, it, in.Process.Extract)
	if err != nil {
		return nil, err
	}
	x, err := p.Extractor.Extract(ctx, Source{Name: it.Filename, ContentType: ctype, Size: in.Size, Open: in.Open,
		MaxText: p.MaxText, Options: opts})
	if err != nil {
		return nil, err
	}
	if err := p.chargeOCR(ctx, it, x); err != nil {
		return nil, err
	}
	out := &Processed{ContentType: ctype, Text: x.Text, WordCount: WordCount(x.Text), Metadata: x.Metadata,
		Warnings: x.Warnings}
	if x.Title != "" {
		out.Metadata = map[string]string{"title": x.Title}
		for k, v := range x.Metadata {
			out.Metadata[k] = v
		}
	}
	if !in.Process.NoChunking && p.Chunker != nil {
		if out.Chunks, err = p.Chunker.Chunk(ctx, x.Text, x.Sections, in.Process.Chunk); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// userSlots counts each user's running calls. The zero value is ready; safe for concurrent
// use.
type userSlots struct {
	mu sync.Mutex
	n  map[int64]int
}

// take claims one of the user's limit slots (limit ≤ 0: no bound), or fails with
// ErrTooManyJobs when they are all held; release gives it back.
func (u *userSlots) take(userID int64, limit int) (release func(), _ error) {
	if limit <= 0 {
		return func() {}, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[userID] >= limit {
		return nil, Detailf(ErrTooManyJobs, "you already have %d inputs processing, the most at once; retry when one is done", limit)
	}
	if u.n == nil {
		u.n = map[int64]int{}
	}
	u.n[userID]++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.n[userID]--; u.n[userID] == 0 {
			delete(u.n, userID)
		}
	}, nil
}

// sniffOpen names the input's content type from its first bytes.
func (s *Service) sniffOpen(in Ephemeral) (string, error) {
	if in.Open == nil {
		return "", Detailf(ErrInvalid, "no file")
	}
	rc, err := in.Open()
	if err != nil {
		return "", fmt.Errorf("media: open input: %w", err)
	}
	defer rc.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(rc, head)
	if n == 0 {
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("media: read input: %w", err)
		}
		return "", Detailf(ErrInvalid, "the file is empty")
	}
	if s.Sniffer == nil {
		return "application/octet-stream", nil
	}
	if t := s.Sniffer.Sniff(head[:n], SanitizeFilename(in.Filename)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}

// hearEphemeral transcribes and chunks an audio or video input in a temporary directory of
// its own.
func (s *Service) hearEphemeral(ctx context.Context, in Ephemeral, it *Item) (*Processed, error) {
	p := s.Pipeline
	if err := in.Process.Transcribe.Check(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(p.TempDir, TempPrefix)
	if err != nil {
		return nil, fmt.Errorf("media: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "original")
	if err := copyTo(ctx, path, Source{Open: in.Open}); err != nil {
		return nil, fmt.Errorf("media: copy input: %w", err)
	}
	h, err := p.hear(ctx, it.UserID, path, dir, in.Process.Transcribe, it.Filename, it.ContentType, false)
	if err != nil {
		return nil, err
	}
	out := &Processed{ContentType: it.ContentType, Text: h.text, WordCount: WordCount(h.text), Metadata: h.meta,
		Segments: h.segments, Warnings: h.warnings}
	if !in.Process.NoChunking && p.Chunker != nil {
		if out.Chunks, err = p.Chunker.Chunk(ctx, h.text, nil, in.Process.Chunk); err != nil {
			return nil, err
		}
		TimeChunks(h.text, h.segments, out.Chunks)
	}
	return out, nil
}
