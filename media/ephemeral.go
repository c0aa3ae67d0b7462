package media

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Ephemeral is one input to process without storing anything (tldw's process-* endpoints).
type Ephemeral struct {
	Actor
	Filename  string // the client's name; its extension decides among text types
	MediaType string // one of Types(); audio and video are not processed ephemerally
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
	Chunks      []Chunk // nil with Process.NoChunking
	Warnings    []string
}

// ProcessEphemeral extracts and chunks one input in the caller's goroutine with the
// Pipeline's Extractor and Chunker, storing nothing: no item, no blob, no quota (OCR pages
// still count against the user's daily budget). Errors: ErrUnsupported without a Pipeline,
// for audio and video, or an input no extractor reads; ErrInvalid for an empty input, an
// invalid media type or options; the Extractor's and Chunker's errors.
func (s *Service) ProcessEphemeral(ctx context.Context, in Ephemeral) (*Processed, error) {
	p := s.Pipeline
	if p == nil || p.Extractor == nil {
		return nil, errNoProcessing
	}
	if err := ValidType(in.MediaType); err != nil {
		return nil, err
	}
	if in.MediaType == TypeAudio || in.MediaType == TypeVideo {
		return nil, Detailf(ErrUnsupported, "audio and video are not processed without storing them; use /media/add")
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
