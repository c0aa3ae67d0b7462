package tldw

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/httpfetch"
	"github.com/tldw-go/tldw/media/mimesniff"
	"github.com/tldw-go/tldw/media/ytdlp"
	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/fsblob"
	"github.com/tldw-go/tldw/storage/s3blob"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// quotaSweepInterval is how often reservations left behind by crashed uploads are released.
const quotaSweepInterval = time.Minute

// openMedia builds media storage: Blobs from MEDIA_STORAGE_URL / MEDIA_STORAGE_PATH, the
// quota Ledger and the media item store, and starts the reservation sweeper.
func (a *App) openMedia(ctx context.Context) error {
	cfg := &a.Config
	if a.Blobs == nil {
		blobs, err := openBlobs(ctx, cfg)
		if err != nil {
			return err
		}
		a.Blobs = blobs
		if c, ok := blobs.(interface{ Close() error }); ok {
			a.closers = append(a.closers, c.Close)
		}
	}
	if a.Ledger == nil {
		a.Ledger = a.db.Ledger(sqlstore.LedgerOptions{Now: a.Now})
	}
	if a.MediaStore == nil {
		a.MediaStore = a.db.Media()
	}
	a.media = &media.Service{
		Store:          a.MediaStore,
		Blobs:          a.Blobs,
		Ledger:         a.Ledger,
		Audit:          a.audit.sink,
		Sniffer:        mimesniff.New(),
		MaxUploadBytes: cfg.MaxUploadSizeMB << 20,
		Now:            a.Now,
		Logger:         a.Logger,
		AddWait:        cfg.MediaAddWait,

		URLFetchBytesPerDay: cfg.MediaURLFetchBytesPerDay,
		EphemeralPerUser:    cfg.MediaMaxActiveJobsPerUser,
	}
	fetcher, err := httpfetch.New(httpfetch.Options{Allow: cfg.MediaURLAllowlist,
		MaxBytes: cfg.MaxUploadSizeMB << 20, UserAgent: "tldw"})
	if err != nil {
		return fmt.Errorf("tldw: MEDIA_URL_ALLOWLIST: %w", err)
	}
	a.media.Fetcher = fetcher
	// Video-site pages (media_type video or audio) go through yt-dlp when installed, every
	// address it fetches checked by the same guard.
	yt, err := ytdlp.New(ytdlp.Config{Path: cfg.YtDlpPath, TempRoot: cfg.TempDir(),
		MaxBytes: cfg.MaxUploadSizeMB << 20, MaxDuration: cfg.MediaMaxDuration, Guard: fetcher.DialContext})
	if err != nil {
		return fmt.Errorf("tldw: yt-dlp: %w", err)
	}
	if yt.Installed() == nil {
		a.media.Fetcher = media.WithVideo(fetcher, yt)
	}
	if err := a.openProcessing(); err != nil {
		return err
	}
	a.every(quotaSweepInterval, func(ctx context.Context) {
		if n, err := a.Ledger.Sweep(ctx, a.Now()); err != nil && ctx.Err() == nil {
			a.Logger.Error("quota sweep", "err", err)
		} else if n > 0 {
			a.Logger.Info("quota sweep released abandoned reservations", "count", n)
		}
	})
	return nil
}

// openBlobs chooses the object store: s3:// → s3blob; file://PATH or empty → fsblob.
func openBlobs(ctx context.Context, cfg *Config) (storage.Blobs, error) {
	u := cfg.MediaStorageURL
	if strings.HasPrefix(u, "s3://") {
		o, err := s3blob.ParseURL(u)
		if err != nil {
			return nil, err
		}
		if o.Endpoint == "" {
			o.Endpoint = cfg.S3Endpoint
		}
		if o.Region == "" {
			o.Region = cfg.S3Region
		}
		o.AccessKey, o.SecretKey = cfg.S3AccessKey, cfg.S3SecretKey.Reveal()
		s, err := s3blob.Open(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("tldw: MEDIA_STORAGE_URL: %w", err)
		}
		return s, nil
	}
	dir := cfg.MediaDir()
	if p, ok := strings.CutPrefix(u, "file://"); ok {
		dir = p
	}
	s, err := fsblob.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("tldw: media directory: %w", err)
	}
	return s, nil
}

// Media returns the media service (after Open).
func (a *App) Media() *media.Service { return a.media }

// every runs fn every interval in the background until Close.
func (a *App) every(interval time.Duration, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	a.closers = append(a.closers, func() error { cancel(); <-done; return nil })
}

// openProcessing builds the media pipeline and its durable jobs (started by startJobs),
// when items live in the database.
func (a *App) openProcessing() error {
	if _, ok := a.MediaStore.(*sqlstore.Media); !ok {
		a.Logger.Warn("media processing is off: MediaStore is not the database's, and jobs are enqueued with the item in one transaction")
		return nil
	}
	if a.Extractor == nil {
		x, closeX := a.defaultExtractor()
		a.Extractor, a.defaultExtract = x, true
		a.closers = append(a.closers, closeX)
	}
	if a.Chunker == nil {
		a.Chunker = media.TextChunker{Tokens: a.tokens()}
	}
	if err := a.openAudio(); err != nil {
		return err
	}
	proc := a.db.Processing()
	p := &media.Pipeline{Store: a.MediaStore, Processing: proc, Blobs: a.Blobs,
		Extractor: a.Extractor, Transcriber: a.Transcriber, Chunker: a.Chunker,
		Indexer: a.Indexer, Summarizer: a.Summarizer, Now: a.Now, Logger: a.Logger,
		Ledger: a.Ledger, OCRPagesPerDay: a.Config.MediaOCRPagesPerDay, Audit: a.audit.sink,
		AV: a.AV, AudioBudget: a.audioBudget, TempDir: a.Config.TempDir()}
	cfg := &a.Config
	jobs, err := a.db.Jobs(sqlstore.JobsOptions{Handler: p.Handle, Workers: cfg.MediaWorkers,
		PerUser: cfg.MediaMaxActiveJobsPerUser, JobTimeout: cfg.MediaJobTimeout, Logger: a.Logger})
	if err != nil {
		return fmt.Errorf("tldw: media jobs: %w", err)
	}
	a.jobs = jobs
	a.media.Jobs, a.media.Processing, a.media.Pipeline = jobs, proc, p
	a.sweepTemp(context.Background())
	a.every(tempSweepInterval, a.sweepTemp)
	a.every(tempSweepInterval, a.pruneMedia)
	return nil
}

// pruneMedia deletes daily budget rows of past days and job links River's retention left
// dangling (sqlstore.DB.PruneMedia). Every replica may run it; the deletes are idempotent.
func (a *App) pruneMedia(ctx context.Context) {
	if n, err := a.db.PruneMedia(ctx, a.Now()); err != nil && ctx.Err() == nil {
		a.Logger.Error("media prune", "err", err)
	} else if n > 0 {
		a.Logger.Info("media prune removed stale rows", "count", n)
	}
}

// tempSweepInterval is how often temporary directories left by crashed tool runs are removed.
const tempSweepInterval = time.Hour

// sweepTemp removes the tool runs' temporary directories older than one job attempt may
// run: what a killed process left behind (a live run is never that old).
func (a *App) sweepTemp(context.Context) {
	n, err := media.SweepTemp(a.Config.TempDir(), a.Now().Add(-a.Config.MediaJobTimeout))
	if err != nil {
		a.Logger.Warn("temporary directory sweep failed", "err", err)
	} else if n > 0 {
		a.Logger.Info("removed temporary directories left by interrupted runs", "count", n)
	}
}

// startJobs starts the processing workers; Close lets running jobs finish for up to
// SHUTDOWN_DRAIN_SECONDS, then cancels them (they run again later, here or on another
// replica).
func (a *App) startJobs(ctx context.Context) error {
	if a.jobs == nil || a.NoWorkers {
		return nil
	}
	if err := a.jobs.Start(ctx); err != nil {
		return err
	}
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), a.Config.DrainTimeout)
		defer cancel()
		return a.jobs.Stop(ctx)
	})
	return nil
}
