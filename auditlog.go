package tldw

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// auditHMACFile holds the checkpoint-signing key generated when AUDIT_HMAC_KEY is not set.
const auditHMACFile = "audit_hmac.key"

// auditTrail is the App's audit plumbing: the sink every component writes to, the
// queryable log behind it, the optional log file, and the background checkpoint and
// retention loops.
type auditTrail struct {
	log  audit.Log
	file *audit.FileSink
	sink audit.Sink
	key  []byte
	now  func() time.Time

	mu       sync.Mutex
	lastSeq  int64
	stop     context.CancelFunc
	loopDone chan struct{}
}

// openAudit builds the audit sink: the database log (or App.AuditLog), AUDIT_LOG_FILE when
// set, and App.Audit when an embedder adds a sink. It starts the checkpoint and retention
// loops; closing them writes a final checkpoint.
func (a *App) openAudit() error {
	cfg := &a.Config
	key := cfg.AuditHMACKey.Reveal()
	if key == "" {
		var err error
		if key, err = loadOrCreateSecret(cfg.DataDir, auditHMACFile); err != nil {
			return err
		}
	}
	t := &auditTrail{key: []byte(key), now: a.Now}
	if a.AuditLog == nil {
		l := a.db.AuditLog(sqlstore.AuditOptions{Logger: a.Logger, Now: a.Now})
		a.AuditLog = l
		a.closers = append(a.closers, l.Close)
	}
	t.log = a.AuditLog
	sinks := []audit.Sink{t.log}
	if cfg.AuditLogFile != "" {
		f, err := audit.OpenFile(cfg.AuditLogFile, cfg.AuditLogFormat)
		if err != nil {
			return fmt.Errorf("tldw: audit log file: %w", err)
		}
		t.file = f
		a.closers = append(a.closers, f.Close)
		sinks = append(sinks, f)
	}
	if a.Audit != nil {
		sinks = append(sinks, a.Audit)
	}
	t.sink = httpapi.ClientRequestIDs(audit.Multi(audit.MultiOptions{Logger: a.Logger, Now: a.Now}, sinks...))
	a.audit = t

	ctx, cancel := context.WithCancel(context.Background())
	t.stop, t.loopDone = cancel, make(chan struct{})
	go a.auditLoops(ctx)
	a.closers = append(a.closers, func() error {
		t.stop()
		<-t.loopDone
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return a.auditCheckpoint(ctx)
	})
	return nil
}

// auditLoops writes a head checkpoint every AUDIT_CHECKPOINT_INTERVAL_SECONDS and purges
// rows older than AUDIT_LOG_RETENTION_DAYS once an hour, until ctx ends.
func (a *App) auditLoops(ctx context.Context) {
	defer close(a.audit.loopDone)
	checkpoint := time.NewTicker(a.Config.AuditCheckpointInterval)
	defer checkpoint.Stop()
	retention := time.NewTicker(time.Hour)
	defer retention.Stop()
	a.auditPurge(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-checkpoint.C:
			if err := a.auditCheckpoint(ctx); err != nil && ctx.Err() == nil {
				a.Logger.Error("audit checkpoint", "err", err)
			}
		case <-retention.C:
			a.auditPurge(ctx)
		}
	}
}

// auditCheckpoint signs the chain head and records it in the database, AUDIT_LOG_FILE and
// the application log, so that cutting rows off the end of the table is detectable. It does
// nothing when the head has not moved since the last checkpoint.
func (a *App) auditCheckpoint(ctx context.Context) error {
	t := a.audit
	t.mu.Lock()
	defer t.mu.Unlock()
	seq, hash, err := t.log.Head(ctx)
	if err != nil || seq == 0 || seq == t.lastSeq {
		return err
	}
	cp := audit.Checkpoint{Seq: seq, Hash: hash, Time: t.now().UTC(), Kind: audit.CheckpointHead}.Sign(t.key)
	var errs []error
	errs = append(errs, t.log.SaveCheckpoint(ctx, cp))
	if t.file != nil {
		errs = append(errs, t.file.WriteCheckpoint(cp))
	}
	a.Logger.Info("audit checkpoint", "checkpoint", cp)
	t.lastSeq = seq
	return errors.Join(errs...)
}

// auditPurge removes audit rows older than the retention period.
func (a *App) auditPurge(ctx context.Context) {
	days := a.Config.AuditLogRetentionDays
	if days <= 0 {
		return
	}
	cutoff := a.Now().Add(-time.Duration(days) * 24 * time.Hour)
	n, err := a.audit.log.Purge(ctx, cutoff, a.audit.key)
	if err != nil && ctx.Err() == nil {
		a.Logger.Error("audit retention purge", "err", err)
	} else if n > 0 {
		a.Logger.Info("audit retention purge", "removed", n, "before", cutoff)
		err := a.audit.sink.Write(ctx, audit.Event{
			Action: audit.AuditPurged, Success: true, Username: "system",
			Details: map[string]any{"removed": n, "before": cutoff.UTC().Format(time.RFC3339)},
		})
		if err != nil {
			a.Logger.Error("audit retention purge event", "err", err)
		}
	}
}

// lastAuditCheckpoint returns the newest validly signed head checkpoint kept outside the
// audit table (AUDIT_LOG_FILE) or inside it, whichever is further along; nil when none.
func (a *App) lastAuditCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	t := a.audit
	var best *audit.Checkpoint
	if cp, err := t.log.LastCheckpoint(ctx, audit.CheckpointHead); err != nil {
		return nil, err
	} else if cp != nil && cp.Valid(t.key) {
		best = cp
	}
	if a.Config.AuditLogFile != "" {
		f, err := os.Open(a.Config.AuditLogFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil {
			defer f.Close()
			cp, err := audit.ParseCheckpoints(f, t.key)
			if err != nil {
				return nil, err
			}
			if cp != nil && (best == nil || cp.Seq > best.Seq) {
				best = cp
			}
		}
	}
	return best, nil
}

// VerifyAudit recomputes the audit hash chain and checks its tail against the newest signed
// checkpoint. It is what `tldwd audit verify` and GET /api/v1/admin/audit-log/verify run.
func (a *App) VerifyAudit(ctx context.Context) (audit.Report, error) {
	last, err := a.lastAuditCheckpoint(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	return a.audit.log.Verify(ctx, last)
}

// AuditSink returns the sink every component of the App writes audit events to (after Open).
func (a *App) AuditSink() audit.Sink { return a.audit.sink }
