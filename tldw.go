package tldw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// App is an embeddable tldw server. Its exported fields may be set until Open is called; a
// nil field is filled from Config. After Open, App is safe for concurrent use.
type App struct {
	// Config is the configuration Open works from. New copies the argument here.
	Config Config
	// Logger receives application and access logs. Nil: built from LOG_LEVEL, LOG_FORMAT and
	// LOG_FILE.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// LogOutput receives logs when Logger is nil and LOG_FILE is unset; nil means os.Stderr.
	LogOutput io.Writer

	// Account stores. Nil: the database's.
	Users    auth.UserStore
	Sessions auth.SessionStore
	Codes    auth.CodeStore
	APIKeys  auth.APIKeyStore
	Lockout  auth.LockoutStore
	Settings auth.SettingsStore

	// Blobs holds media files. Nil: fsblob under MEDIA_STORAGE_PATH, or s3blob for an s3://
	// MEDIA_STORAGE_URL.
	Blobs storage.Blobs
	// Ledger accounts storage quotas. Nil: the database's, which reads each user's limit from
	// the users row (storage_quota_mb) when it reserves. Another Ledger keeps its own limits:
	// the admin quota route sets them through media.Service.SetLimit.
	Ledger quota.Ledger
	// MediaStore keeps media items. Nil: the database's. Items are processed (durable jobs
	// on the database) only with the database's store.
	MediaStore media.Store
	// Processing hooks of media.Pipeline. Extractor nil: the built-in extractors chosen by
	// format (extractors.go: text, HTML, Office, EPUB, e-mail, PDF with OCR, images, ODT,
	// RTF); Chunker nil: media.TextChunker with the cl100k tokenizer.
	// Transcriber, Indexer and Summarizer nil: their stages are skipped (audio and video
	// then fail with "transcription is not available").
	Extractor   media.Extractor
	Chunker     media.Chunker
	Transcriber media.Transcriber
	// AV probes and decodes audio and video; nil: media/ffmpeg when installed.
	AV         media.AV
	Indexer    media.Indexer
	Summarizer media.Summarizer
	// NoWorkers keeps this App from running processing jobs: it still enqueues them, for the
	// replicas whose workers run. Command-line tools beside a running server set it.
	NoWorkers bool

	// Limiter decides request rates (RATE_LIMIT_*). Nil: per replica in memory, or with
	// REDIS_URL shared through Redis, falling back to per-replica limits while Redis is down
	// (scaleout.go). With REDIS_URL a nil Lockout is likewise kept in Redis, falling back to
	// the database.
	Limiter quota.Limiter

	// AuditLog is the queryable, hash-chained audit log. Nil: the database's audit_log table.
	AuditLog audit.Log
	// Audit, when set, receives every audit event besides AuditLog and AUDIT_LOG_FILE (for
	// example a forwarder to a SIEM).
	Audit audit.Sink

	mu              sync.Mutex
	opened          bool
	closers         []func() error
	logFile         *reopenFile
	db              *sqlstore.DB
	redis           *redisConn
	api             *httpapi.Server
	audit           *auditTrail
	accounts        *auth.Service
	media           *media.Service
	jobs            *sqlstore.Jobs
	audioBudget     *media.AudioBudget
	audioTiers      map[string]media.AudioTier
	transcriberName string
	defaultExtract  bool // Extractor is defaultExtractor's: health reports its tools
	draining        atomic.Bool
}

// New returns an App for cfg. Nothing is opened or validated until Open.
func New(cfg Config) *App {
	return &App{Config: cfg}
}

// Open validates the configuration, fills nil dependencies, opens the database (migrating it
// unless TLDW_AUTO_MIGRATE=false), creates the data and media directories, generates missing
// secrets and builds the HTTP handler. It returns the joined configuration problems, or the
// first error met while opening; on error everything opened so far is closed again.
// Open may be called once.
func (a *App) Open(ctx context.Context) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opened {
		return errors.New("tldw: App already opened")
	}
	if err := a.Config.Validate(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Logger == nil {
		logger, f, err := newLogger(a.Config, a.LogOutput)
		if err != nil {
			return err
		}
		a.Logger, a.logFile = logger, f
		if f != nil {
			a.closers = append(a.closers, f.Close)
		}
	}
	if err := a.openStorage(ctx); err != nil {
		return err
	}
	if err := a.openAudit(); err != nil {
		return err
	}
	if err := a.openMedia(ctx); err != nil {
		return err
	}
	if err := a.openAccounts(); err != nil {
		return err
	}
	if err := a.buildHTTP(); err != nil {
		return err
	}
	if err := a.startJobs(ctx); err != nil {
		return err
	}
	a.opened = true
	return nil
}

// openStorage prepares the data directory, secrets, database and Redis.
func (a *App) openStorage(ctx context.Context) error {
	cfg := &a.Config
	for _, dir := range []string{cfg.DataDir, cfg.TempDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("tldw: create directory: %w", err)
		}
	}
	if cfg.AuthMode == "multi_user" && cfg.JWTSecretKey == "" {
		key, err := loadOrCreateSecret(cfg.DataDir, jwtSecretFile)
		if err != nil {
			return err
		}
		cfg.JWTSecretKey = Secret(key)
	}
	db, err := openDB(ctx, *cfg, a.Logger)
	if err != nil {
		return err
	}
	a.db = db
	a.closers = append(a.closers, db.Close)
	if cfg.AutoMigrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("tldw: migrate database: %w", err)
		}
		if len(applied) > 0 {
			a.Logger.Info("database migrated", "applied", applied)
		}
	}
	if cfg.RedisURL != "" {
		a.redis = newRedisConn(cfg.RedisURL.Reveal(), cfg.RedisMaxConnections, cfg.RedisTimeout, a.Logger, a.Now)
		a.closers = append(a.closers, a.redis.Close)
	}
	return nil
}

// buildHTTP assembles the HTTP handler from the opened parts.
func (a *App) buildHTTP() error {
	cfg := &a.Config
	checks := []httpapi.Check{
		{Name: "database", Critical: true, Run: a.db.Ping},
		{Name: "media_dir", Run: a.mediaHealthy},
		{Name: "disk", Run: func(context.Context) error { return enoughDisk(cfg.DataDir, cfg.HealthMinFreeDiskMB) }},
	}
	if a.redis != nil {
		checks = append(checks, httpapi.Check{Name: "redis", Run: a.redis.Ping})
	}
	if a.defaultExtract {
		checks = append(checks, httpapi.Check{Name: "media_tools", Info: true, Run: a.mediaToolsCheck()})
	}
	api, err := httpapi.New(httpapi.Options{
		Logger:               a.Logger,
		Version:              Version(),
		AuthMode:             cfg.AuthMode,
		Now:                  a.Now,
		Checks:               checks,
		Ready:                a.ready,
		Draining:             a.draining.Load,
		DBStats:              a.db.Stats,
		TrustedHosts:         cfg.TrustedHosts,
		AllowedOrigins:       cfg.AllowedOrigins,
		CORSAllowCredentials: cfg.CORSAllowCredentials,
		DisableCORS:          cfg.DisableCORS,
		CSP:                  cfg.CSPDirectives,
		HSTS:                 cfg.SecureCookies,
		EnableMetrics:        cfg.EnableMetrics,
		MetricsAllowed:       cfg.MetricsAllowedCIDRs,
		MetricsToken:         cfg.MetricsToken.Reveal(),
		Auth:                 a.accounts,
		Media:                a.media,
		Audit:                a.audit.sink,
		AuditLog:             a.audit.log,
		AuditHead:            a.lastAuditCheckpoint,
		TrustedProxies:       cfg.TrustedProxies,
		AuthCookies:          cfg.AuthCookies,
		SecureCookies:        cfg.SecureCookies,
		CookieSameSite:       cfg.SessionCookieSameSite,
		Limiter:              a.rateLimiter(),
		RateLimits:           cfg.rateLimits(),
		BodyIdleTimeout:      cfg.BodyIdleTimeout,
		ReadTimeout:          cfg.ReadTimeout,
		MediaAddMaxItems:     cfg.MediaAddMaxItems,
		Transcriber:          a.Transcriber,
		TranscriberName:      a.transcriberName,
		AV:                   a.AV,
		AudioBudget:          a.audioBudget,
	})
	if err != nil {
		return err
	}
	a.api = api
	return nil
}

// ready reports whether this instance should receive traffic: the database answers and its
// schema is current.
func (a *App) ready(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	st, err := a.db.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if !st.Current {
		return fmt.Errorf("%w: %d", httpapi.ErrMigrationsPending, len(st.Pending))
	}
	return nil
}

// Handler returns the HTTP handler serving /api/v1, /openapi.json, /docs and /metrics. It
// may be mounted under a prefix with http.StripPrefix. It panics if Open has not succeeded.
func (a *App) Handler() http.Handler {
	if a.api == nil {
		panic("tldw: Handler called before Open")
	}
	return a.api
}

// DatabaseKind reports "sqlite" or "postgres" once Open has succeeded.
func (a *App) DatabaseKind() string {
	if a.db == nil {
		return a.Config.DatabaseKind()
	}
	return a.db.Dialect()
}

// Serve serves HTTP on ln until ctx is cancelled, then drains: /api/v1/health/ready answers
// 503 at once, the listener closes after SHUTDOWN_DELAY_SECONDS, and in-flight requests get
// SHUTDOWN_DRAIN_SECONDS to finish. It returns nil after a clean drain, the drain deadline's
// error when requests were cut off, or the listener's error.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	cfg := &a.Config
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       httpapi.ConnContext,
	}
	srv.RegisterOnShutdown(a.api.CloseStreams) // SSE and WebSocket streams end when the drain starts
	ln = httpapi.Listen(ln, httpapi.ConnLimits{Total: cfg.MaxConnections, PerIP: cfg.MaxConnectionsPerIP,
		Exempt: cfg.TrustedProxies})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.draining.Store(true)
	a.Logger.Info("shutting down: draining requests", "delay", cfg.ShutdownDelay, "timeout", cfg.DrainTimeout)
	if cfg.ShutdownDelay > 0 {
		t := time.NewTimer(cfg.ShutdownDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("tldw: drain: %w", err)
	}
	return nil
}

// ReopenLogs reopens LOG_FILE and AUDIT_LOG_FILE so that logrotate can move the old
// files away; hosts call it on SIGHUP. It is a no-op when logging goes to stderr.
func (a *App) ReopenLogs() error {
	var errs []error
	if a.logFile != nil {
		errs = append(errs, a.logFile.Reopen())
	}
	if a.audit != nil && a.audit.file != nil {
		errs = append(errs, a.audit.file.Reopen())
	}
	return errors.Join(errs...)
}

// Close releases everything Open acquired, newest first. It is safe to call more than once.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeAll()
}

func (a *App) closeAll() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// RequireAuth guards an embedder's own handler with tldw's credentials (Bearer JWT, API key,
// or the session cookie): without a valid one the request gets tldw's 401 JSON error;
// otherwise next sees the caller through PrincipalFrom. Call it after Open.
func (a *App) RequireAuth(next http.Handler) http.Handler { return a.api.RequireAuth(next) }

// PrincipalFrom returns the caller that RequireAuth (or a tldw route) authenticated, or nil.
func PrincipalFrom(ctx context.Context) *auth.Principal { return httpapi.PrincipalFrom(ctx) }
