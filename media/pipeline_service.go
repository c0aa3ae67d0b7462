package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tldw-go/tldw/storage"
)

// create records a new item, enqueueing its processing when s.Jobs is set.
func (s *Service) create(ctx context.Context, it *Item, o ProcessOptions) (*Job, error) {
	if s.Jobs == nil {
		return nil, s.Store.Create(ctx, it)
	}
	it.Status = StatusQueued
	job, err := s.Jobs.CreateItem(ctx, it, o)
	if err != nil {
		it.Status = StatusStored
		return nil, err
	}
	return job, nil
}

// errNoProcessing is returned by the processing reads when the Service has no
// ProcessingStore or Jobs.
var errNoProcessing = fmt.Errorf("%w: processing is not enabled on this server", ErrUnsupported)

// owner returns the user whose item id the actor may read: the actor, or for ReadAny
// actors the item's owner. ErrNotFound.
func (s *Service) owner(ctx context.Context, a Actor, id int64) (int64, error) {
	if a.ReadAny {
		it, err := s.Store.ByIDAny(ctx, id)
		if err != nil {
			return 0, err
		}
		return it.UserID, nil
	}
	if _, err := s.Store.ByID(ctx, a.UserID, id); err != nil {
		return 0, err
	}
	return a.UserID, nil
}

// ProcessingOf returns the processing state (status, stages, chunk and word counts) of an
// item the actor may read. ErrNotFound; ErrUnsupported without a ProcessingStore.
func (s *Service) ProcessingOf(ctx context.Context, a Actor, id int64) (*Processing, error) {
	if s.Processing == nil {
		return nil, errNoProcessing
	}
	uid, err := s.owner(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return s.Processing.Processing(ctx, uid, id)
}

// ContentOf returns the extracted text of an item the actor may read. ErrNotFound when
// the item is absent or has no text yet; ErrUnsupported without a ProcessingStore.
func (s *Service) ContentOf(ctx context.Context, a Actor, id int64) (*Content, error) {
	if s.Processing == nil {
		return nil, errNoProcessing
	}
	uid, err := s.owner(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return s.Processing.Content(ctx, uid, id)
}

// ChunksOf returns n chunks (n < 0: all) of an item the actor may read, from index first.
// ErrNotFound; ErrUnsupported without a ProcessingStore.
func (s *Service) ChunksOf(ctx context.Context, a Actor, id int64, first, n int) ([]Chunk, error) {
	if s.Processing == nil {
		return nil, errNoProcessing
	}
	uid, err := s.owner(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return s.Processing.Chunks(ctx, uid, id, first, n)
}

// WaitPoll bounds how long WaitProcessed sleeps between two reads of the processing state
// when the item's runs are not heard of in this process (no Pipeline).
const WaitPoll = 200 * time.Millisecond

// WaitFallbackPoll bounds how long WaitProcessed sleeps between two reads of the processing
// state when this process's Pipeline wakes it as soon as a run of the item ends here: the
// reads only catch runs on other replicas (and cancellations of jobs that were not running).
const WaitFallbackPoll = time.Second

// WaitProcessed waits until the user's item has finished processing (processed, failed or
// cancelled) and returns its state. A run in this process (Service.Pipeline) wakes it at
// once; besides, it reads the database at growing intervals (from 5 ms up to WaitPoll, or
// WaitFallbackPoll with a Pipeline), so any replica's progress is seen. When ctx ends first
// it returns the latest state with ctx's error. ErrNotFound; ErrUnsupported without a
// ProcessingStore.
func (s *Service) WaitProcessed(ctx context.Context, userID, id int64) (*Processing, error) {
	if s.Processing == nil {
		return nil, errNoProcessing
	}
	wait, poll := 5*time.Millisecond, WaitPoll
	if s.Pipeline != nil {
		poll = WaitFallbackPoll
	}
	for {
		var woken <-chan struct{}
		done := func() {}
		if s.Pipeline != nil {
			woken, done = s.Pipeline.waiters.wait(id) // before the read: a run ending after it wakes us
		}
		p, err := s.Processing.Processing(ctx, userID, id)
		if err != nil {
			done()
			if ctx.Err() != nil && p == nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if p.Status.Terminal() {
			done()
			return p, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			done()
			return p, ctx.Err()
		case <-woken:
		case <-t.C:
		}
		t.Stop()
		done()
		wait = min(2*wait, poll)
	}
}

// ListJobs returns the actor's processing jobs (every user's for ReadAny actors when
// f.UserID is 0; f.UserID is forced to the actor's own otherwise). ErrUnsupported without
// Jobs.
func (s *Service) ListJobs(ctx context.Context, a Actor, f JobFilter) ([]Job, error) {
	if s.Jobs == nil {
		return nil, errNoProcessing
	}
	if !a.ReadAny {
		f.UserID = a.UserID
	}
	return s.Jobs.List(ctx, f)
}

// JobOf returns a job of the actor (any user's for ReadAny actors). ErrNotFound.
func (s *Service) JobOf(ctx context.Context, a Actor, id int64) (*Job, error) {
	if s.Jobs == nil {
		return nil, errNoProcessing
	}
	uid := a.UserID
	if a.ReadAny {
		uid = 0
	}
	return s.Jobs.Get(ctx, uid, id)
}

// CancelJob cancels one of the actor's own jobs. ErrNotFound.
func (s *Service) CancelJob(ctx context.Context, a Actor, id int64) (*Job, error) {
	if s.Jobs == nil {
		return nil, errNoProcessing
	}
	return s.Jobs.Cancel(ctx, a.UserID, id)
}

// RetryJob runs one of the actor's own failed or cancelled jobs again. ErrNotFound;
// ErrConflict for a running or completed job.
func (s *Service) RetryJob(ctx context.Context, a Actor, id int64) (*Job, error) {
	if s.Jobs == nil {
		return nil, errNoProcessing
	}
	return s.Jobs.Retry(ctx, a.UserID, id)
}

// Reprocess enqueues one of the actor's own items for processing again with o. With
// o.From empty it re-runs chunk → index → analyze on the stored text when the item has
// text, and every stage otherwise. ErrNotFound; ErrConflict while the item's job is not
// finished; ErrInvalid for bad options.
func (s *Service) Reprocess(ctx context.Context, a Actor, id int64, o ProcessOptions) (*Job, error) {
	if s.Jobs == nil || s.Processing == nil {
		return nil, errNoProcessing
	}
	if _, err := o.Chunk.Normalized(); err != nil && !o.NoChunking {
		return nil, err
	}
	if o.From == "" {
		o.From = StageProbe
		_, err := s.Processing.Content(ctx, a.UserID, id)
		switch {
		case err == nil:
			o.From = StageChunk
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	return s.Jobs.Enqueue(ctx, a.UserID, id, o)
}

// Thumbnail opens the thumbnail (a JPEG frame, ThumbnailKey) of a video the actor may read;
// the caller closes it. ErrNotFound when the item is absent or has no thumbnail;
// ErrUnsupported without a ProcessingStore.
func (s *Service) Thumbnail(ctx context.Context, a Actor, id int64) (io.ReadCloser, storage.Info, error) {
	if s.Processing == nil {
		return nil, storage.Info{}, errNoProcessing
	}
	uid, err := s.owner(ctx, a, id)
	if err != nil {
		return nil, storage.Info{}, err
	}
	c, err := s.Processing.Content(ctx, uid, id)
	if err != nil {
		return nil, storage.Info{}, err
	}
	if c.Metadata[MetaThumbnailBytes] == "" {
		return nil, storage.Info{}, fmt.Errorf("%w: item %d has no thumbnail", ErrNotFound, id)
	}
	it, err := s.Store.ByID(ctx, uid, id)
	if err != nil {
		return nil, storage.Info{}, err
	}
	rc, info, err := s.Blobs.Get(ctx, ThumbnailKey(it.BlobKey))
	if errors.Is(err, storage.ErrNotExist) {
		return nil, storage.Info{}, fmt.Errorf("%w: the thumbnail of item %d is missing", ErrNotFound, id)
	}
	if err != nil {
		return nil, storage.Info{}, fmt.Errorf("media: open thumbnail: %w", err)
	}
	return rc, info, nil
}

// TranscriptsOf returns the stored transcripts of an item the actor may read, newest first.
// ErrNotFound; ErrUnsupported without a ProcessingStore.
func (s *Service) TranscriptsOf(ctx context.Context, a Actor, id int64) ([]StoredTranscript, error) {
	if s.Processing == nil {
		return nil, errNoProcessing
	}
	uid, err := s.owner(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return s.Processing.Transcripts(ctx, uid, id)
}
