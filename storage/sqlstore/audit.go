package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/audit"
)

const (
	defaultAuditBatch  = 256              // AuditOptions.MaxBatch when zero
	auditCommitTimeout = 30 * time.Second // bounds one batch transaction
	auditPurgeChunk    = 5000             // rows removed per purge transaction
	maxAuditPage       = 1000             // largest Query page
	defaultAuditPage   = 100              // Query page when Filter.Limit is zero

	// sqliteTimeLayout is how SQLite stores times: fixed-width UTC text that sorts
	// and compares as text, also against datetime('now', ...).
	sqliteTimeLayout = "2006-01-02 15:04:05.000000"

	auditColumns = "id, seq, user_id, username, action, target_type, target_id, ip_address, " +
		"user_agent, request_id, request_method, request_path, success, error_message, details, " +
		"created_at, prev_hash, hash"
	auditInsert = "INSERT INTO audit_log (seq, user_id, username, action, target_type, target_id, " +
		"ip_address, user_agent, request_id, request_method, request_path, success, error_message, " +
		"details, created_at, prev_hash, hash) VALUES "
	auditInsertRow  = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	auditInsertArgs = 17

	// lockHeadSQL reads the chain head and, being an UPDATE, locks it: the row lock
	// on PostgreSQL, the database write lock on SQLite (also in a deferred
	// transaction). Every writer and purge starts with it, so they serialise.
	lockHeadSQL = "UPDATE audit_chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
)

// AuditOptions configures [DB.AuditLog]. The zero value is ready to use.
type AuditOptions struct {
	// MaxBatch caps the events committed in one transaction; 0 means 256.
	MaxBatch int
	// Logger receives failed batches; nil means the DB's logger.
	Logger *slog.Logger
	// Now fills a zero Event.Time and stamps purge checkpoints; nil means time.Now.
	Now func() time.Time
}

// AuditLog is the database audit sink and the queryable, verifiable audit log
// ([audit.Log]) on the tables audit_log, audit_chain_head and
// audit_checkpoints. Events are hash-chained (see package audit) and written
// with group commit: one goroutine takes every event queued while the previous
// transaction ran and commits them together, so concurrent writers share one
// transaction and one commit. Several AuditLogs, in one process or in several
// replicas on one PostgreSQL database, extend a single linear chain, because
// each batch locks the chain head row.
//
// All methods are safe for concurrent use. On a database with a single
// connection (sqlite::memory:), do not call other methods, and do not Write,
// from inside a Scan loop: the open cursor holds the connection.
type AuditLog struct {
	db       *DB
	maxBatch int
	log      *slog.Logger
	now      func() time.Time

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *auditReq
	done   chan struct{} // closed when the committer has exited

	purgeRows       int64        // rows removed per purge transaction
	batches, events atomic.Int64 // committed so far (for tests)
	batchHook       func(n int)  // tests: called before a batch of n commits
}

var _ audit.Log = (*AuditLog)(nil)

// auditReq is one queued event and where its batch's outcome goes.
type auditReq struct {
	row  auditRow
	done chan error // buffered: the committer never blocks on it
}

// auditRow is an event ready to insert; the committer fills in the chain.
type auditRow struct {
	rec     audit.Record
	details any // nil or the JSON text of rec.Event.Details
}

// AuditLog starts the group-commit goroutine of an audit log on db and returns
// it; Close stops it. The schema comes from Migrate.
func (db *DB) AuditLog(o AuditOptions) *AuditLog {
	l := &AuditLog{
		db: db, maxBatch: o.MaxBatch, log: o.Logger, now: o.Now,
		purgeRows: auditPurgeChunk, done: make(chan struct{}),
	}
	if l.maxBatch <= 0 {
		l.maxBatch = defaultAuditBatch
	}
	if l.log == nil {
		l.log = db.log
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.reqs = make(chan *auditReq, l.maxBatch)
	go l.run()
	return l
}

// Write stores e as the next link of the chain and returns once the
// transaction holding it has committed, so the event is durable when Write
// returns nil. A zero Time is set from AuditOptions.Now, and e passes through
// audit.Redact (which leaves events that came through audit.Multi unchanged),
// so that what is hashed is exactly what the table returns. If the batch fails,
// every Write in it returns the error. Write returns ctx.Err() when ctx is done
// first (the event may still be stored), audit.ErrClosed after Close, and an
// error wrapping audit.ErrInvalid for a time outside years 1 to 9999.
func (l *AuditLog) Write(ctx context.Context, e audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	row, err := l.prepare(e)
	if err != nil {
		return err
	}
	r := &auditReq{row: row, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return audit.ErrClosed
	}
	select {
	case l.reqs <- r:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prepare normalises e and encodes its details, in the caller's goroutine so
// the committer only chains and inserts.
func (l *AuditLog) prepare(e audit.Event) (auditRow, error) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e = audit.Redact(e)
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return auditRow{}, fmt.Errorf("%w: audit event time %s outside years 1-9999", audit.ErrInvalid, e.Time)
	}
	details, err := encodeDetails(e.Details)
	if err != nil {
		return auditRow{}, err
	}
	return auditRow{rec: audit.Record{Event: e}, details: details}, nil
}

// encodeDetails returns the JSON text stored for details, or nil (NULL) when
// there are none.
func encodeDetails(details map[string]any) (any, error) {
	if len(details) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(details); err != nil {
		return nil, fmt.Errorf("%w: audit event details: %v", audit.ErrInvalid, err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// Close stops accepting events, waits until every queued event is committed
// and stops the committer. Later Writes return audit.ErrClosed; a second Close
// does nothing. It always returns nil; the database itself stays open.
func (l *AuditLog) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.reqs)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}

// run is the committer: it takes everything queued (up to maxBatch) and
// commits it in one transaction, while new events queue for the next one.
func (l *AuditLog) run() {
	defer close(l.done)
	batch := make([]*auditReq, 0, l.maxBatch)
	for r := range l.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < l.maxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		err := l.commit(batch)
		for _, r := range batch {
			r.done <- err
		}
		clear(batch)
	}
}

// commit chains and inserts one batch in one transaction.
func (l *AuditLog) commit(batch []*auditReq) error {
	if l.batchHook != nil {
		l.batchHook(len(batch))
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditCommitTimeout)
	defer cancel()
	rows := make([]auditRow, len(batch))
	for i, r := range batch {
		rows[i] = r.row
	}
	err := l.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		seq, prev, err := lockHead(ctx, tx)
		if err != nil {
			return err
		}
		for i := range rows {
			rec := &rows[i].rec
			seq++
			rec.Seq, rec.PrevHash = seq, prev
			rec.Hash = audit.Hash(prev, rec.Event)
			prev = rec.Hash
		}
		if err := l.insertRows(ctx, tx, rows); err != nil {
			return err
		}
		return setHead(ctx, tx, seq, prev)
	})
	if err != nil {
		err = fmt.Errorf("sqlstore: audit write of %d events: %w", len(batch), err)
		l.log.Error("audit batch commit failed", "events", len(batch), "error", err)
		return err
	}
	l.batches.Add(1)
	l.events.Add(int64(len(batch)))
	return nil
}

// lockHead locks the chain head row and returns its position.
func lockHead(ctx context.Context, db bun.IDB) (seq int64, hash string, err error) {
	if err := db.QueryRowContext(ctx, lockHeadSQL).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("lock audit chain head: %w", err)
	}
	return seq, hash, nil
}

func setHead(ctx context.Context, db bun.IDB, seq int64, hash string) error {
	if _, err := db.ExecContext(ctx, "UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1", seq, hash); err != nil {
		return fmt.Errorf("update audit chain head: %w", err)
	}
	return nil
}

// insertRows inserts chained rows with one multi-row INSERT.
func (l *AuditLog) insertRows(ctx context.Context, db bun.IDB, rows []auditRow) error {
	var q strings.Builder
	q.Grow(len(auditInsert) + len(rows)*(len(auditInsertRow)+2))
	q.WriteString(auditInsert)
	args := make([]any, 0, len(rows)*auditInsertArgs)
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(auditInsertRow)
		e := &r.rec.Event
		var user any
		if e.UserID != 0 {
			user = e.UserID
		}
		args = append(args, r.rec.Seq, user, nullText(e.Username), e.Action, nullText(e.TargetType),
			nullText(e.TargetID), nullText(e.IP), nullText(e.UserAgent), nullText(e.RequestID),
			nullText(e.Method), nullText(e.Path), e.Success, nullText(e.Error), r.details,
			l.db.timeArg(e.Time), r.rec.PrevHash, r.rec.Hash)
	}
	if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert audit rows: %w", err)
	}
	return nil
}

// nullText stores an empty optional field as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeArg is t as this dialect stores it.
func (db *DB) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if db.dialect == dialectSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// dbTime scans a time stored by either dialect.
type dbTime struct{ t time.Time }

func (d *dbTime) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case time.Time:
		d.t = x.UTC()
		return nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("audit time: unexpected %T", v)
	}
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("audit time %q: %w", s, err)
		}
	}
	d.t = t.UTC()
	return nil
}

// scanEntry reads one row selected with auditColumns, rebuilding the event
// exactly as it was hashed.
func scanEntry(rows *sql.Rows) (audit.Entry, error) {
	var (
		en      audit.Entry
		e       = &en.Event
		userID  sql.NullInt64
		details sql.NullString
		created dbTime
		text    [10]sql.NullString
	)
	err := rows.Scan(&en.ID, &en.Seq, &userID, &text[0], &e.Action, &text[1], &text[2], &text[3],
		&text[4], &text[5], &text[6], &text[7], &e.Success, &text[8], &details, &created,
		&en.PrevHash, &en.Hash)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("sqlstore: read audit row: %w", err)
	}
	e.UserID = userID.Int64
	e.Username, e.TargetType, e.TargetID, e.IP = text[0].String, text[1].String, text[2].String, text[3].String
	e.UserAgent, e.RequestID, e.Method, e.Path = text[4].String, text[5].String, text[6].String, text[7].String
	e.Error = text[8].String
	e.Time = created.t
	if details.Valid && details.String != "" {
		d := json.NewDecoder(strings.NewReader(details.String))
		d.UseNumber() // numbers keep their exact text, as audit.Canonical expects
		if err := d.Decode(&e.Details); err != nil {
			return audit.Entry{}, fmt.Errorf("sqlstore: audit row %d details: %w", en.Seq, err)
		}
	}
	return en, nil
}

// entries streams the rows of an open query; it closes rows when done.
func entries(rows *sql.Rows) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		defer rows.Close()
		for rows.Next() {
			en, err := scanEntry(rows)
			if err != nil {
				yield(audit.Entry{}, err)
				return
			}
			if !yield(en, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(audit.Entry{}, fmt.Errorf("sqlstore: read audit rows: %w", err))
		}
	}
}

// records adapts entries to audit.Verify's input.
func records(rows *sql.Rows) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		for en, err := range entries(rows) {
			if !yield(en.Record, err) {
				return
			}
		}
	}
}

// where builds the WHERE clause (with a leading space, or empty) for f.
// Stored actions are normalised lower case, so comparing lower-cased filter
// values is case-insensitive and still uses the action index.
func (l *AuditLog) where(f audit.Filter) (string, []any) {
	var conds, actionConds []string
	var args []any
	if len(f.Actions) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Actions)), ", ")
		actionConds = append(actionConds, "action IN ("+marks+")")
		for _, a := range f.Actions {
			args = append(args, strings.ToLower(strings.TrimSpace(a)))
		}
	}
	if p := strings.ToLower(strings.TrimSpace(f.ActionPrefix)); p != "" {
		actionConds = append(actionConds, "action LIKE ? ESCAPE '!'")
		args = append(args, auditLikeEscaper.Replace(p)+"%")
	}
	if len(actionConds) > 0 {
		conds = append(conds, "("+strings.Join(actionConds, " OR ")+")")
	}
	if f.UserID != 0 {
		conds, args = append(conds, "user_id = ?"), append(args, f.UserID)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "created_at >= ?"), append(args, l.db.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "created_at < ?"), append(args, l.db.timeArg(f.Until))
	}
	if f.TargetType != "" {
		conds, args = append(conds, "target_type = ?"), append(args, f.TargetType)
	}
	if f.TargetID != "" {
		conds, args = append(conds, "target_id = ?"), append(args, f.TargetID)
	}
	if f.Success != nil {
		conds, args = append(conds, "success = ?"), append(args, *f.Success)
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// auditLikeEscaper escapes LIKE metacharacters with '!' (ESCAPE '!').
var auditLikeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// Query returns one page of entries matching f, newest first (by created_at,
// then seq), and how many entries match in all. f.Limit 0 means 100; a Limit
// outside 0..1000 or a negative Offset yields an error wrapping
// audit.ErrInvalid. Database errors are returned wrapped.
func (l *AuditLog) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, int, error) {
	if f.Limit < 0 || f.Limit > maxAuditPage || f.Offset < 0 {
		return nil, 0, fmt.Errorf("%w: audit query limit must be 1-%d and offset >= 0", audit.ErrInvalid, maxAuditPage)
	}
	if f.Limit == 0 {
		f.Limit = defaultAuditPage
	}
	where, args := l.where(f)
	var total int
	if err := l.db.bun.QueryRowContext(ctx, "SELECT count(*) FROM audit_log"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count audit rows: %w", err)
	}
	out := make([]audit.Entry, 0, min(f.Limit, total))
	for en, err := range l.Scan(ctx, f) {
		if err != nil {
			return nil, 0, err
		}
		out = append(out, en)
	}
	return out, total, nil
}

// Scan yields every entry matching f, newest first, from one database cursor,
// so memory use does not grow with the number of rows. f.Limit > 0 caps the
// count (any size) and f.Offset skips entries. A negative Limit or Offset
// yields an error wrapping audit.ErrInvalid; database errors are yielded
// wrapped, after which the sequence ends.
func (l *AuditLog) Scan(ctx context.Context, f audit.Filter) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		if f.Limit < 0 || f.Offset < 0 {
			yield(audit.Entry{}, fmt.Errorf("%w: audit scan limit and offset must not be negative", audit.ErrInvalid))
			return
		}
		where, args := l.where(f)
		q := "SELECT " + auditColumns + " FROM audit_log" + where + " ORDER BY created_at DESC, seq DESC"
		switch {
		case f.Limit > 0:
			q, args = q+" LIMIT ? OFFSET ?", append(args, f.Limit, f.Offset)
		case f.Offset > 0 && l.db.dialect == dialectSQLite:
			q, args = q+" LIMIT -1 OFFSET ?", append(args, f.Offset)
		case f.Offset > 0:
			q, args = q+" OFFSET ?", append(args, f.Offset)
		}
		rows, err := l.db.bun.QueryContext(ctx, q, args...)
		if err != nil {
			yield(audit.Entry{}, fmt.Errorf("sqlstore: query audit rows: %w", err))
			return
		}
		for en, err := range entries(rows) {
			if !yield(en, err) || err != nil {
				return
			}
		}
	}
}

// Head returns the newest chain position: seq 0 and audit.Genesis before the
// first event. Database errors are returned wrapped.
func (l *AuditLog) Head(ctx context.Context) (seq int64, hash string, err error) {
	return readHead(ctx, l.db.bun)
}

func readHead(ctx context.Context, db bun.IDB) (seq int64, hash string, err error) {
	if err := db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_chain_head WHERE id = 1").Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("sqlstore: read audit chain head: %w", err)
	}
	return seq, hash, nil
}

// readTx begins a read-only transaction with one consistent snapshot: on
// PostgreSQL REPEATABLE READ, on SQLite a deferred (not IMMEDIATE)
// transaction, so writers are not blocked.
func (db *DB) readTx(ctx context.Context) (bun.Tx, error) {
	o := &sql.TxOptions{ReadOnly: true}
	if db.dialect == dialectPostgres {
		o.Isolation = sql.LevelRepeatableRead
	}
	return db.bun.BeginTx(ctx, o)
}

// Verify recomputes the hash chain and reports the first broken link (see
// audit.Verify). It reads one consistent snapshot: the chain head, the newest
// purge checkpoint, then every row after that checkpoint in seq order,
// streaming. Verification starts at the purge checkpoint as stored: its MAC is
// not checked here (the store holds no key); a caller with the key can check
// LastCheckpoint(ctx, audit.CheckpointPurge) with Checkpoint.Valid.
//
// Beyond audit.Verify, the chain must end exactly at the head recorded in
// audit_chain_head: ending earlier is BreakTruncated (rows were cut off the
// end, detected even without a head checkpoint unless the attacker also
// rewrote the head row, which last then catches), a different last hash is
// BreakTruncated, and rows past the head are BreakReordered (inserted outside
// the writer). A broken chain is reported in Report; the error is non-nil only
// for database failures or when ctx is done.
func (l *AuditLog) Verify(ctx context.Context, last *audit.Checkpoint) (audit.Report, error) {
	tx, err := l.db.readTx(ctx)
	if err != nil {
		return audit.Report{}, fmt.Errorf("sqlstore: audit verify: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	headSeq, headHash, err := readHead(ctx, tx)
	if err != nil {
		return audit.Report{}, err
	}
	start, err := lastCheckpoint(ctx, tx, audit.CheckpointPurge)
	if err != nil {
		return audit.Report{}, err
	}
	var from int64
	if start != nil {
		from = start.Seq
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE seq > ? ORDER BY seq", from)
	if err != nil {
		return audit.Report{}, fmt.Errorf("sqlstore: audit verify: %w", err)
	}
	rep, err := audit.Verify(ctx, records(rows), start, last)
	_ = rows.Close()
	if err != nil || !rep.OK {
		return rep, err
	}
	switch {
	case rep.Head < headSeq:
		rep.Break = &audit.Break{Seq: rep.Head + 1, Kind: audit.BreakTruncated, Detail: fmt.Sprintf(
			"the log ends at seq %d but the chain head records seq %d: rows were cut off the end", rep.Head, headSeq)}
	case rep.Head > headSeq:
		rep.Break = &audit.Break{Seq: headSeq + 1, Kind: audit.BreakReordered, Detail: fmt.Sprintf(
			"row %d follows the recorded chain head (seq %d): rows were inserted outside the audit writer", headSeq+1, headSeq)}
	case rep.HeadHash != headHash:
		rep.Break = &audit.Break{Seq: rep.Head, Kind: audit.BreakTruncated, Detail: fmt.Sprintf(
			"row %d differs from the recorded chain head: the log was cut back and rewritten", rep.Head)}
	}
	if rep.Break != nil {
		rep.OK = false
	}
	return rep, nil
}

// Purge removes the oldest entries, up to (not including) the first entry in
// seq order created at or after cutoff, so it never removes a newer entry
// and always removes a prefix of the chain. It works in transactions of at
// most 5000 rows, each locking the chain head briefly, verifying the rows it
// removes against the previous purge checkpoint and recording a new purge
// checkpoint (the last removed seq and hash, signed with key via
// Checkpoint.Sign; an empty key leaves it unsigned) that Verify starts from.
// It refuses to remove rows whose chain does not verify, so a purge never
// erases evidence of tampering: the error names the break and nothing more is
// removed. It returns how many rows it removed, also alongside an error.
func (l *AuditLog) Purge(ctx context.Context, cutoff time.Time, key []byte) (int64, error) {
	var first int64
	err := l.db.bun.QueryRowContext(ctx,
		"SELECT seq FROM audit_log WHERE created_at >= ? ORDER BY seq LIMIT 1", l.db.timeArg(cutoff)).Scan(&first)
	var upTo int64
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if upTo, _, err = l.Head(ctx); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, fmt.Errorf("sqlstore: audit purge: %w", err)
	default:
		upTo = first - 1
	}
	var total int64
	for {
		n, err := l.purgeChunk(ctx, upTo, key)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
}

// purgeChunk removes at most auditPurgeChunk rows with seq <= upTo after the
// newest purge checkpoint and records a new one.
func (l *AuditLog) purgeChunk(ctx context.Context, upTo int64, key []byte) (int64, error) {
	var n int64
	err := l.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, _, err := lockHead(ctx, tx); err != nil {
			return err
		}
		prev, err := lastCheckpoint(ctx, tx, audit.CheckpointPurge)
		if err != nil {
			return err
		}
		var from int64
		if prev != nil {
			from = prev.Seq
		}
		hi := min(upTo, from+l.purgeRows)
		if hi <= from {
			return nil
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE seq <= ? ORDER BY seq", hi)
		if err != nil {
			return err
		}
		rep, err := audit.Verify(ctx, records(rows), prev, nil)
		_ = rows.Close()
		switch {
		case err != nil:
			return err
		case !rep.OK:
			return fmt.Errorf("refusing to remove rows of a broken chain: %s at seq %d: %s",
				rep.Break.Kind, rep.Break.Seq, rep.Break.Detail)
		case rep.Head != hi:
			return fmt.Errorf("refusing to purge: the chain ends at seq %d, before seq %d", rep.Head, hi)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM audit_log WHERE seq <= ?", hi)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		cp := audit.Checkpoint{Seq: hi, Hash: rep.HeadHash, Time: l.now(), Kind: audit.CheckpointPurge}.Sign(key)
		return insertCheckpoint(ctx, l.db, tx, cp)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: audit purge: %w", err)
	}
	return n, nil
}

// SaveCheckpoint stores c (normally a signed head checkpoint) as given. It
// returns an error wrapping audit.ErrInvalid for a kind other than
// audit.CheckpointHead or audit.CheckpointPurge, and database errors wrapped.
func (l *AuditLog) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	if c.Kind != audit.CheckpointHead && c.Kind != audit.CheckpointPurge {
		return fmt.Errorf("%w: audit checkpoint kind %q", audit.ErrInvalid, c.Kind)
	}
	if err := insertCheckpoint(ctx, l.db, l.db.bun, c); err != nil {
		return fmt.Errorf("sqlstore: save audit checkpoint: %w", err)
	}
	return nil
}

func insertCheckpoint(ctx context.Context, db *DB, idb bun.IDB, c audit.Checkpoint) error {
	_, err := idb.ExecContext(ctx, "INSERT INTO audit_checkpoints (kind, seq, hash, created_at, mac) VALUES (?, ?, ?, ?, ?)",
		c.Kind, c.Seq, c.Hash, db.timeArg(c.Time), c.MAC)
	return err
}

// LastCheckpoint returns the stored checkpoint of kind with the highest seq
// (the newest one among equals), or nil when there is none. Database errors
// are returned wrapped.
func (l *AuditLog) LastCheckpoint(ctx context.Context, kind string) (*audit.Checkpoint, error) {
	return lastCheckpoint(ctx, l.db.bun, kind)
}

func lastCheckpoint(ctx context.Context, db bun.IDB, kind string) (*audit.Checkpoint, error) {
	c := audit.Checkpoint{Kind: kind}
	var t dbTime
	err := db.QueryRowContext(ctx,
		"SELECT seq, hash, created_at, mac FROM audit_checkpoints WHERE kind = ? ORDER BY seq DESC, id DESC LIMIT 1",
		kind).Scan(&c.Seq, &c.Hash, &t, &c.MAC)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("sqlstore: read audit checkpoint: %w", err)
	}
	c.Time = t.t
	return &c, nil
}
